# uni_add_module(name sources...)
# Builds lib<name>.so, a module a uni cluster can run, into ${UNI_MODULE_OUTPUT_DIR}.
# -fno-gnu-unique keeps the statics of two builds of one module apart, so both
# can be loaded in the same worker (live patching).
function(uni_add_module name)
  add_library(${name} SHARED ${ARGN})
  target_include_directories(${name} PRIVATE ${UNI_INCLUDE_DIR} ${MSGPACK_INCLUDE_DIR})
  target_compile_definitions(${name} PRIVATE MSGPACK_NO_BOOST)
  target_compile_options(${name} PRIVATE -fno-gnu-unique)
  set_target_properties(${name} PROPERTIES
    LIBRARY_OUTPUT_DIRECTORY ${UNI_MODULE_OUTPUT_DIR}
    PREFIX "lib")
endfunction()
