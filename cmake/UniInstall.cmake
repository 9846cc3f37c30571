# What `cmake --install` (and `make install PREFIX=...`) puts under the prefix:
# the `uni` binary, include/uni, libuni-client.so, the CMake package
# (find_package(uni): uni::client and uni_add_module()) and uni.pc for
# pkg-config. Every installed path is relative to the prefix, so an installed
# tree can be moved (docs/install.md; tests/build/install_test.sh checks it).
include(CMakePackageConfigHelpers)

set(UNI_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/uni)

install(TARGETS uni RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS uni_client_shared EXPORT uniTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The Python runtime module, where it was built: the Python package finds it
# under <prefix>/lib/uni (docs/python.md).
if(TARGET uni_python)
  install(TARGETS uni_python LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/uni)
endif()
# Only include/uni: what bosses and modules include. src/ stays private.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/uni DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT uniTargets NAMESPACE uni:: DESTINATION ${UNI_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/uniConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/uniConfig.cmake
                              INSTALL_DESTINATION ${UNI_INSTALL_CMAKEDIR}
                              PATH_VARS CMAKE_INSTALL_INCLUDEDIR)
# Before 1.0 a minor release may change the API: 0.1 satisfies only 0.1.x.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/uniConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/uniConfig.cmake ${PROJECT_BINARY_DIR}/uniConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/UniModule.cmake
        DESTINATION ${UNI_INSTALL_CMAKEDIR})

# uni.pc finds the prefix from its own place (${pcfiledir}), not from
# CMAKE_INSTALL_PREFIX, which `cmake --install --prefix` overrides after
# configure time.
set(UNI_PKGCONFIG_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH UNI_PC_PREFIX_FROM_PCFILEDIR /${UNI_PKGCONFIG_DIR} /)
string(REGEX REPLACE "/$" "" UNI_PC_PREFIX_FROM_PCFILEDIR "${UNI_PC_PREFIX_FROM_PCFILEDIR}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/uni.pc.in ${PROJECT_BINARY_DIR}/uni.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/uni.pc DESTINATION ${UNI_PKGCONFIG_DIR})
