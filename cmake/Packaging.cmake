# Installing troupe (`cmake --install`) and packaging it (`make package`, a
# Debian package through CPack). What an install holds:
#   bin/troupe                          the command line
#   include/troupe/...                  every public header
#   lib/libtroupe_*.a                   the libraries (static)
#   lib/troupe/plugins/{drag,wind}.so   the sample rules plugins
#   lib/cmake/troupe/                   troupeConfig.cmake, its version file,
#                                       the exported targets, FindCAF.cmake
# Two export sets: troupe::sim alone (it needs TBB only), and the rest.
include(CMakePackageConfigHelpers)

set(TROUPE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/troupe)
set(TROUPE_INSTALL_PLUGIN_DIR ${CMAKE_INSTALL_LIBDIR}/troupe/plugins)

install(TARGETS troupe_sim troupe_options EXPORT troupe-sim
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set_target_properties(troupe_options PROPERTIES EXPORT_NAME options)
install(EXPORT troupe-sim NAMESPACE troupe:: DESTINATION ${TROUPE_CMAKE_DIR} FILE troupe-sim-targets.cmake)

install(TARGETS troupe_messages troupe_config troupe_audio troupe_render troupe_rules_abi troupe_plugins
                troupe_live troupe_actors troupe_cli EXPORT troupe
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS troupe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS rules_drag rules_wind LIBRARY DESTINATION ${TROUPE_INSTALL_PLUGIN_DIR})
install(EXPORT troupe NAMESPACE troupe:: DESTINATION ${TROUPE_CMAKE_DIR} FILE troupe-targets.cmake)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/troupeConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/troupeConfig.cmake
  INSTALL_DESTINATION ${TROUPE_CMAKE_DIR}
  PATH_VARS TROUPE_INSTALL_PLUGIN_DIR)
# 0.x: a new minor version may break the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/troupeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/troupeConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/troupeConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/FindCAF.cmake
        DESTINATION ${TROUPE_CMAKE_DIR})

# `make package`: one Debian package with the whole install, its build and run
# dependencies listed (the libraries are static: their users link CAF, TBB,
# Boost, OpenAL, Vulkan... themselves).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME troupe)
set(CPACK_PACKAGE_VENDOR "troupe developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "actor-model simulation framework on CAF: one world hash on any placement")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "troupe developers <troupe@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libcaf-dev (>= 0.17), libtbb-dev, libboost-serialization-dev (>= 1.74), libtomlplusplus-dev, libcli11-dev, nlohmann-json3-dev (>= 3.11), prometheus-cpp-dev (>= 1.0), \
libxxhash-dev, libopenal-dev, libvulkan-dev, mesa-vulkan-drivers, libglm-dev, libpng-dev, libglfw3-dev, libssl-dev, pkg-config")
include(CPack)
