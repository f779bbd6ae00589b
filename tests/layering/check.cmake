# tests/layering/check.cmake: proves that the build enforces the modules'
# dependency direction (docs/architecture.md, "Dependency direction").
#   cmake -DBUILD=<regio's build dir> -DCOMMANDS=<compile_commands.json>
#         -DSOURCE=<source dir> -P check.cmake
# (compile_commands.json is in the top build directory, which is not regio's
# own when regio is a subdirectory of another project).
#
# 1. For each module, take the real compile command of one of its sources
#    from compile_commands.json and compile, in that include context, a
#    probe that includes one internal header: every header of the module
#    itself and of the modules below must be found, every header of a module
#    above must not ("No such file"). Made from the real command, the check
#    fails as soon as a module's include path is widened (every folder
#    global again, or an upper folder added to a lower module).
# 2. The include path cannot stop a relative include ("../wal/x.h") or a
#    public header (include/regio/ is one folder), so the sources are also
#    scanned: a library file includes internal headers by bare name only,
#    and public headers of its own module or those below.
cmake_minimum_required(VERSION 3.20)

set(modules base arena iobuf engine wal)
set(dir_base arena/base)
set(dir_arena arena)
set(dir_iobuf iobuf)
set(dir_engine engine)
set(dir_wal wal)
# The module each public header belongs to. A new public header must be
# assigned here: the scan refuses a header it cannot place.
set(public_common base)
set(public_export base)
set(public_arena arena)
set(public_stats arena)
set(public_iobuf iobuf)
set(public_engine engine)
set(public_pager engine)
set(public_testing engine)
set(public_wal wal)

set(failures 0)
macro(fail msg)
  message("FAIL: ${msg}")
  math(EXPR failures "${failures} + 1")
endmacro()

file(READ "${COMMANDS}" db)
string(JSON n_entries LENGTH "${db}")
math(EXPR last "${n_entries} - 1")

# The compile command (as a list) of the first source directly in dir.
function(command_for dir out_cmd out_wd)
  foreach(i RANGE ${last})
    string(JSON file GET "${db}" ${i} file)
    get_filename_component(fdir "${file}" DIRECTORY)
    if(fdir STREQUAL "${SOURCE}/${dir}")
      string(JSON cmd GET "${db}" ${i} command)
      string(JSON wd GET "${db}" ${i} directory)
      separate_arguments(args UNIX_COMMAND "${cmd}")
      set(keep "")
      set(skip_next FALSE)
      foreach(a ${args})
        if(skip_next)
          set(skip_next FALSE)
        elseif(a MATCHES "^-(o|c|MF|MT|MQ)$")
          set(skip_next TRUE)
        elseif(NOT a MATCHES "^-M(D|MD)$")
          list(APPEND keep "${a}")
        endif()
      endforeach()
      set(${out_cmd} "${keep}" PARENT_SCOPE)
      set(${out_wd} "${wd}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  set(${out_cmd} "" PARENT_SCOPE)
endfunction()

set(probe_dir "${BUILD}/layering-probe")
file(MAKE_DIRECTORY "${probe_dir}")
set(probes 0)
set(m_index 0)
foreach(m ${modules})
  command_for("${dir_${m}}" cmd wd)
  if(NOT cmd)
    fail("no compile command for a source in ${dir_${m}}/ (is CMAKE_EXPORT_COMPILE_COMMANDS on?)")
    continue()
  endif()
  set(h_index 0)
  foreach(h ${modules})
    file(GLOB headers RELATIVE "${SOURCE}/${dir_${h}}" "${SOURCE}/${dir_${h}}/*.h")
    foreach(hdr ${headers})
      set(probe "${probe_dir}/${m}_includes_${hdr}.c")
      file(WRITE "${probe}" "#include \"${hdr}\"\nint regio_layering_probe;\n")
      # LC_ALL=C: the compiler's "No such file" is matched below.
      execute_process(COMMAND ${CMAKE_COMMAND} -E env LC_ALL=C ${cmd} -fsyntax-only "${probe}"
                      WORKING_DIRECTORY "${wd}"
                      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
      math(EXPR probes "${probes} + 1")
      if(h_index LESS_EQUAL m_index AND NOT rc EQUAL 0)
        fail("${m} cannot include ${hdr} of ${h} (below or its own): ${out}")
      elseif(h_index GREATER m_index AND rc EQUAL 0)
        fail("${m} can include ${hdr} of ${h}, a module above it: the include path runs back up")
      elseif(h_index GREATER m_index AND NOT out MATCHES "No such file|not found")
        fail("${m} including ${hdr} failed, but not for a missing header: ${out}")
      endif()
    endforeach()
    math(EXPR h_index "${h_index} + 1")
  endforeach()
  math(EXPR m_index "${m_index} + 1")
endforeach()

# Scan: quoted includes of every library file, and of the public headers.
set(m_index 0)
foreach(m ${modules})
  file(GLOB files "${SOURCE}/${dir_${m}}/*.c" "${SOURCE}/${dir_${m}}/*.h")
  foreach(f ${files})
    file(STRINGS "${f}" incs REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(line ${incs})
      string(REGEX REPLACE "^[^\"]*\"([^\"]*)\".*" "\\1" inc "${line}")
      if(inc MATCHES "^regio/([a-z_]+)\\.h$")
        set(owner "${public_${CMAKE_MATCH_1}}")
      elseif(inc STREQUAL "regio.h")
        set(owner wal)
      elseif(inc MATCHES "/")
        fail("${f} includes \"${inc}\": internal headers by bare name only")
        continue()
      else()
        continue() # bare internal name: checked by the compile probes
      endif()
      if(NOT owner)
        fail("${f} includes \"${inc}\", a public header assigned to no module (tests/layering/check.cmake)")
        continue()
      endif()
      list(FIND modules "${owner}" o_index)
      if(o_index GREATER m_index)
        fail("${f} (module ${m}) includes \"${inc}\" of ${owner}, a module above it")
      endif()
    endforeach()
  endforeach()
  math(EXPR m_index "${m_index} + 1")
endforeach()

# The public headers themselves: regio/<x>.h includes only headers of its
# own module or those below.
file(GLOB public "${SOURCE}/include/regio/*.h")
foreach(f ${public})
  get_filename_component(name "${f}" NAME_WE)
  set(self "${public_${name}}")
  if(NOT self)
    fail("${f} is assigned to no module (tests/layering/check.cmake)")
    continue()
  endif()
  list(FIND modules "${self}" s_index)
  file(STRINGS "${f}" incs REGEX "^[ \t]*#[ \t]*include[ \t]*\"regio/")
  foreach(line ${incs})
    string(REGEX REPLACE "^[^\"]*\"regio/([a-z_]+)\\.h\".*" "\\1" inc "${line}")
    list(FIND modules "${public_${inc}}" o_index)
    if(o_index GREATER s_index OR o_index LESS 0)
      fail("${f} (module ${self}) includes regio/${inc}.h of a module above it")
    endif()
  endforeach()
endforeach()

if(failures GREATER 0)
  message(FATAL_ERROR "layering: ${failures} failure(s)")
endif()
message(STATUS "layering: ${probes} include probes and the include scan agree with the stacking")
