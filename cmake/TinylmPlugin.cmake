# tinylm_add_plugin(<name> [SOURCES ...] [PROTOS ...] [LIBRARIES ...] [ABI <n>] [NO_INSTALL])
#
# Builds plugin <name> as <name>.so (a MODULE library) from the .cc and .proto files of the
# current folder (or the ones given). Protos may `import "tinylm.proto";` to extend the spec
# messages. In the tinylm tree the plugin lands in the build's plugin directory and is
# installed (unless NO_INSTALL); out of tree (find_package(tinylm)) it lands in
# ${CMAKE_BINARY_DIR}/plugins.
#
# Optimisation: plugins are compiled with the flags tinylm's own plugins use
# (TINYLM_PLUGIN_OPT_FLAGS, e.g. -fno-trapping-math -march=native). When the project sets no
# CMAKE_BUILD_TYPE, out-of-tree plugins also get -O3 -DNDEBUG (what Release means in the tree):
# an unoptimised token mixer runs several times slower and would make every measurement wrong.
# Set CMAKE_BUILD_TYPE=Debug (or any type) to choose yourself.
#
# Plugin ABI: TINYLM_PLUGIN_ABI holds the ABI of the tinylm being built against (a plugin built
# for another ABI is refused at load time). ABI <n> builds a plugin for another ABI on purpose,
# to test that refusal.
function(tinylm_add_plugin name)
  cmake_parse_arguments(P "NO_INSTALL" "ABI" "SOURCES;PROTOS;LIBRARIES" ${ARGN})
  if(NOT P_SOURCES)
    file(GLOB P_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  endif()
  if(NOT P_PROTOS)
    file(GLOB P_PROTOS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.proto)
  endif()
  add_library(${name} MODULE ${P_SOURCES} ${P_PROTOS})
  if(P_PROTOS)
    protobuf_generate(TARGET ${name} LANGUAGE cpp
                      IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR} ${TINYLM_PROTO_IMPORT_DIR})
    target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  if(NOT TINYLM_PLUGIN_OUTPUT_DIR)
    set(TINYLM_PLUGIN_OUTPUT_DIR ${CMAKE_BINARY_DIR}/plugins)
  endif()
  set_target_properties(${name} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
                        LIBRARY_OUTPUT_DIRECTORY ${TINYLM_PLUGIN_OUTPUT_DIR})
  target_link_libraries(${name} PRIVATE tinylm::tinylm OpenMP::OpenMP_CXX ${P_LIBRARIES})
  target_compile_options(${name} PRIVATE ${TINYLM_PLUGIN_OPT_FLAGS})
  if(P_ABI)
    target_compile_definitions(${name} PRIVATE TINYLM_PLUGIN_ABI=${P_ABI})
  endif()
  if(TINYLM_IN_TREE)
    target_compile_options(${name} PRIVATE ${TINYLM_WARNINGS})
    if(NOT P_NO_INSTALL)
      install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/tinylm/plugins)
    endif()
  else()
    get_property(multi_config GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
    if(NOT CMAKE_BUILD_TYPE AND NOT multi_config)
      target_compile_options(${name} PRIVATE -O3)
      target_compile_definitions(${name} PRIVATE NDEBUG)
      message(STATUS "tinylm plugin ${name}: no CMAKE_BUILD_TYPE, compiling optimised (-O3 -DNDEBUG ${TINYLM_PLUGIN_OPT_FLAGS}) as tinylm's own plugins")
    endif()
  endif()
endfunction()
