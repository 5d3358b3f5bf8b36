# tinylm_add_plugin(<name> [SOURCES ...] [PROTOS ...] [LIBRARIES ...])
#
# Builds plugin <name> as <name>.so (a MODULE library) from the .cc and .proto files of the
# current folder (or the ones given). Protos may `import "tinylm.proto";` to extend the spec
# messages. In the tinylm tree the plugin lands in the build's plugin directory and is
# installed; out of tree (find_package(tinylm)) it lands in ${CMAKE_BINARY_DIR}/plugins.
function(tinylm_add_plugin name)
  cmake_parse_arguments(P "" "" "SOURCES;PROTOS;LIBRARIES" ${ARGN})
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
  if(TINYLM_IN_TREE)
    target_compile_options(${name} PRIVATE ${TINYLM_WARNINGS} ${TINYLM_OPT_FLAGS})
    install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/tinylm/plugins)
  endif()
endfunction()
