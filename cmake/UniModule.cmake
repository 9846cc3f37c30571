# uni_add_module(name sources...)
# Builds lib<name>.so, a module a uni cluster can run. Works in any CMake
# project, inside this repository or outside it:
#
#   include(/path/to/uni/cmake/UniModule.cmake)
#   uni_add_module(words words.cpp)
#
# Headers: uni's include/ beside this file (or UNI_INCLUDE_DIR, if set) and
# msgpack-cxx's (found; or MSGPACK_INCLUDE_DIR, if set). Output: the current
# build directory, or UNI_MODULE_OUTPUT_DIR if set.
# -fno-gnu-unique keeps the statics of two builds of one module apart, so both
# can be loaded in the same worker (live patching).
if(NOT UNI_INCLUDE_DIR)
  get_filename_component(UNI_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../include" ABSOLUTE)
endif()
if(NOT MSGPACK_INCLUDE_DIR)
  find_path(MSGPACK_INCLUDE_DIR msgpack.hpp)
  if(NOT MSGPACK_INCLUDE_DIR)
    message(FATAL_ERROR "uni_add_module: msgpack.hpp not found; install libmsgpack-cxx-dev, or "
                        "set MSGPACK_INCLUDE_DIR")
  endif()
endif()

function(uni_add_module name)
  add_library(${name} SHARED ${ARGN})
  target_include_directories(${name} PRIVATE ${UNI_INCLUDE_DIR} ${MSGPACK_INCLUDE_DIR})
  target_compile_features(${name} PRIVATE cxx_std_20)
  target_compile_definitions(${name} PRIVATE MSGPACK_NO_BOOST)
  target_compile_options(${name} PRIVATE -fno-gnu-unique)
  set_target_properties(${name} PROPERTIES PREFIX "lib")
  if(UNI_MODULE_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${UNI_MODULE_OUTPUT_DIR})
  endif()
endfunction()
