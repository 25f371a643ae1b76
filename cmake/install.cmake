# install.cmake — `cmake --install build --prefix P` puts attnlab into P as a
# CMake package, so that another project's CMakeLists.txt needs only
#   find_package(attnlab REQUIRED)          # with -DCMAKE_PREFIX_PATH=P
#   target_link_libraries(my_app PRIVATE attnlab::attnlab)
# Layout: P/lib/libattnlab.a; P/include/{core,attention,datasets,nn}/... (the
# source tree's headers, so includes read "core/core.h" as inside attnlab);
# P/lib/cmake/attnlab/ (attnlabConfig.cmake, the version file, the targets).
# nn/distributed (MPI) is not installed: it is for attnlab's own apps.
include(CMakePackageConfigHelpers)
set(ATTNLAB_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/attnlab)

install(TARGETS attnlab EXPORT attnlabTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY core attention datasets nn DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h"
        PATTERN "distributed" EXCLUDE)
install(EXPORT attnlabTargets NAMESPACE attnlab:: DESTINATION ${ATTNLAB_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/attnlabConfig.cmake.in ${PROJECT_BINARY_DIR}/attnlabConfig.cmake
                              INSTALL_DESTINATION ${ATTNLAB_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/attnlabConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/attnlabConfig.cmake ${PROJECT_BINARY_DIR}/attnlabConfigVersion.cmake
        DESTINATION ${ATTNLAB_INSTALL_CMAKEDIR})
