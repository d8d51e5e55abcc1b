# What `cmake --install` puts where (GNUInstallDirs), for a system's package or a prefix:
#   bin/nepnet, bin/nepnetd
#   lib/libnepnet.so.0.1 (SONAME; only the public API exported: the objects are built with
#     -fvisibility=hidden and include/nepnet/*.h marks what is public), lib/libnepnet.so
#   lib/libnepnet.a      the same objects, static, with OpenSSL 3.5's libcrypto and libsecp256k1
#                        inside when nepnet was built against static prefixes of them (Debian 12
#                        has neither version)
#   include/nepnet/*.h, lib/pkgconfig/nepnet.pc, lib/cmake/nepnet/ (find_package(nepnet))
#   share/man/man{1,5,8}/ (when help2man is there), share/doc/nepnet/
# Needs, defined before inclusion: the targets nepnet (cmake/layers.cmake), nepnet-cli, nepnetd,
# NEPNET_UMBRELLA_OBJECTS and NEPNET_UMBRELLA_EXTERNAL.
include(GNUInstallDirs)

set(NEPNET_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}) # 0.x: every minor may break the ABI

# The shared library: the same objects as libnepnet.a. A static OpenSSL is linked in with its
# symbols kept local (--exclude-libs), so a program that also loads the system's libcrypto
# (3.0 on Debian 12) gets no clash.
add_library(nepnet_shared SHARED ${NEPNET_UMBRELLA_OBJECTS})
set_target_properties(nepnet_shared PROPERTIES OUTPUT_NAME nepnet EXPORT_NAME nepnet VERSION ${PROJECT_VERSION}
                      SOVERSION ${NEPNET_SOVERSION} LINKER_LANGUAGE C)
target_link_libraries(nepnet_shared PRIVATE ${NEPNET_UMBRELLA_EXTERNAL})
target_link_options(nepnet_shared PRIVATE -Wl,--exclude-libs,ALL -Wl,--no-undefined -Wl,-z,relro,-z,now)
target_include_directories(nepnet_shared INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# The static library to install: libnepnet.a, plus the members of the static OpenSSL and
# libsecp256k1 archives bootstrap built (Debian 12 has neither version).
set(NEPNET_INSTALL_STATIC ${CMAKE_BINARY_DIR}/install/libnepnet.a)
set(_merge "")
set(NEPNET_PC_CRYPTO "")
set(NEPNET_PC_CRYPTO_PRIVATE "")
set(NEPNET_CMAKE_DEPS "")
if(NEPNET_LIBCRYPTO)
  list(APPEND _merge ${NEPNET_LIBCRYPTO})
  set(NEPNET_PC_CRYPTO_PRIVATE "-ldl")
else()
  set(NEPNET_PC_CRYPTO "libcrypto >= 3.5")
  set(NEPNET_CMAKE_DEPS "libcrypto>=3.5")
endif()
if(NEPNET_LIBSECP256K1)
  list(APPEND _merge ${NEPNET_LIBSECP256K1})
else()
  string(APPEND NEPNET_PC_CRYPTO " libsecp256k1 >= 0.4")
  string(APPEND NEPNET_CMAKE_DEPS " libsecp256k1>=0.4")
endif()
if(_merge)
  set(_mri "CREATE ${NEPNET_INSTALL_STATIC}\nADDLIB $<TARGET_FILE:nepnet>\n")
  foreach(a IN LISTS _merge)
    string(APPEND _mri "ADDLIB ${a}\n")
  endforeach()
  file(WRITE ${CMAKE_BINARY_DIR}/install/merge.mri.in "${_mri}SAVE\nEND\n")
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/install/merge.mri INPUT ${CMAKE_BINARY_DIR}/install/merge.mri.in)
  add_custom_command(OUTPUT ${NEPNET_INSTALL_STATIC}
                     COMMAND ${CMAKE_COMMAND} -E rm -f ${NEPNET_INSTALL_STATIC}
                     COMMAND ${CMAKE_AR} -M < ${CMAKE_BINARY_DIR}/install/merge.mri
                     DEPENDS nepnet ${_merge} COMMENT "libnepnet.a with the static OpenSSL and libsecp256k1 inside"
                     VERBATIM)
else()
  add_custom_command(OUTPUT ${NEPNET_INSTALL_STATIC}
                     COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_FILE:nepnet> ${NEPNET_INSTALL_STATIC}
                     DEPENDS nepnet VERBATIM)
endif()
add_custom_target(nepnet_install_static ALL DEPENDS ${NEPNET_INSTALL_STATIC})

install(TARGETS nepnet-cli nepnetd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS nepnet_shared EXPORT nepnetTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT dev)
install(FILES ${NEPNET_INSTALL_STATIC} DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/nepnet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
        FILES_MATCHING PATTERN "*.h")

# pkg-config: the shared library by default; --static adds what libnepnet.a needs.
file(RELATIVE_PATH NEPNET_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
configure_file(${PROJECT_SOURCE_DIR}/cmake/nepnet.pc.in ${CMAKE_BINARY_DIR}/install/nepnet.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/install/nepnet.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)

# find_package(nepnet): nepnet::nepnet (the shared library) and nepnet::nepnet_static.
install(EXPORT nepnetTargets NAMESPACE nepnet:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nepnet COMPONENT dev)
include(CMakePackageConfigHelpers)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nepnetConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/install/nepnetConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nepnet)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/install/nepnetConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/install/nepnetConfig.cmake ${CMAKE_BINARY_DIR}/install/nepnetConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nepnet COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/API.md ${PROJECT_SOURCE_DIR}/docs/PROTOCOL.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Man pages from the programs' own help, so that they cannot drift from it: nepnet(1),
# nepnetd(8) and nepnetd.conf(5) (from nepnetd --help-config, the same table as the options).
find_program(NEPNET_HELP2MAN help2man)
if(NEPNET_HELP2MAN)
  set(_man ${CMAKE_BINARY_DIR}/man)
  file(MAKE_DIRECTORY ${_man})
  file(GENERATE OUTPUT ${_man}/nepnetd.conf CONTENT
       "#!/bin/sh\n# help2man's view of the settings file: --help is its reference\ncase \"$1\" in\n  --help) exec \"$<TARGET_FILE:nepnetd>\" --help-config ;;\n  *) \"$<TARGET_FILE:nepnetd>\" --version | sed '1s/^nepnetd /nepnetd.conf /' ;;\nesac\n"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  add_custom_command(
    OUTPUT ${_man}/nepnet.1 ${_man}/nepnetd.8 ${_man}/nepnetd.conf.5
    COMMAND ${NEPNET_HELP2MAN} --no-info --no-discard-stderr --section=1
            "--name=command line of nepnet: node status, transactions, devnet, simulator"
            --output=${_man}/nepnet.1 $<TARGET_FILE:nepnet-cli>
    COMMAND ${NEPNET_HELP2MAN} --no-info --no-discard-stderr --section=8 "--manual=System Administration"
            "--name=nepnet node daemon: post-quantum private P2P network for Neptune"
            --output=${_man}/nepnetd.8 $<TARGET_FILE:nepnetd>
    COMMAND ${NEPNET_HELP2MAN} --no-info --no-discard-stderr --section=5 "--manual=File Formats"
            "--name=settings file of nepnetd"
            --output=${_man}/nepnetd.conf.5 ${_man}/nepnetd.conf
    DEPENDS nepnet-cli nepnetd COMMENT "Man pages from the programs' help (help2man)" VERBATIM)
  add_custom_target(nepnet_man ALL DEPENDS ${_man}/nepnet.1 ${_man}/nepnetd.8 ${_man}/nepnetd.conf.5)
  install(FILES ${_man}/nepnet.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${_man}/nepnetd.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
  install(FILES ${_man}/nepnetd.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
else()
  message(STATUS "help2man not found: no man pages (apt-get install help2man)")
endif()
# The service: its unit (Debian 12 wants /lib/systemd/system: debian/rules says so), the user
# (sysusers; the Debian package has dh_installsysusers do it) and a settings file with every
# setting commented out, which the unit names.
set(NEPNET_SYSTEMD_UNITDIR lib/systemd/system CACHE STRING "where the systemd unit goes (relative: under the prefix)")
option(NEPNET_INSTALL_SYSUSERS "install the sysusers.d file for the nepnet user" ON)
install(FILES ${PROJECT_SOURCE_DIR}/contrib/systemd/nepnetd.service DESTINATION ${NEPNET_SYSTEMD_UNITDIR})
if(NEPNET_INSTALL_SYSUSERS)
  install(FILES ${PROJECT_SOURCE_DIR}/contrib/systemd/nepnet.sysusers DESTINATION lib/sysusers.d RENAME nepnet.conf)
endif()
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/install/nepnetd.conf
                   COMMAND $<TARGET_FILE:nepnetd> --print-default-config > ${CMAKE_BINARY_DIR}/install/nepnetd.conf
                   DEPENDS nepnetd COMMENT "The default settings file")
add_custom_target(nepnet_default_conf ALL DEPENDS ${CMAKE_BINARY_DIR}/install/nepnetd.conf)
install(FILES ${CMAKE_BINARY_DIR}/install/nepnetd.conf DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/nepnet)
