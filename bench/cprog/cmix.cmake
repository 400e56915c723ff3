# guest-bench's c-mix case (included by bench/CMakeLists.txt): cmix.c is
# compiled twice, into guest-bench for the native baseline, and for the
# guest, at build time, into a flat i386 image in the build tree:
#   gcc -m32 -O2 -ffreestanding ... -c cmix.c       (or i686-linux-gnu-gcc)
#   nasm -f elf32 cmix_entry.asm                    (the entry stub: stack, call, hlt)
#   ld -m elf_i386 -static -Ttext=BASE -e _start    (the stub first: entry at BASE)
#   objcopy -O binary                               -> <build>/bench/cprog/cmix.bin
# No multilib C library is needed: the objects are freestanding and ld links
# them itself. Without a compiler that can target i386 (or nasm, ld, objcopy)
# the case is built out and reports itself skipped, with the reason.
set(CMIX_SRC ${CMAKE_CURRENT_SOURCE_DIR}/cprog)
set(CMIX_OUT ${CMAKE_CURRENT_BINARY_DIR}/cprog)
set(CMIX_BASE 0x00200000)        # the image's guest address (entry = BASE)
set(CMIX_STACK_TOP 0x00300000)   # the stub's initial ESP
set(CMIX_GUEST_FLAGS -m32 -O2 -std=gnu11 -Wall -Wextra -ffreestanding -fno-pic -fno-pie
                     -fno-stack-protector -fno-asynchronous-unwind-tables -mno-sse -mno-mmx
                     -mno-80387 -nostdlib -I ${CMIX_SRC})

# The text of the c-mix case in guest-bench with these: on the host, plain C.
target_sources(guest-bench PRIVATE ${CMIX_SRC}/cmix.c)
target_include_directories(guest-bench PRIVATE ${CMIX_SRC})
# The native baseline is what gcc -O2 makes of cmix.c alone, as for the
# guest: no link-time optimization across it and guest-bench.
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  set_source_files_properties(${CMIX_SRC}/cmix.c PROPERTIES COMPILE_OPTIONS "-fno-lto")
endif()

set(cmix_skip "")
find_program(CMIX_NASM nasm)
find_program(CMIX_LD NAMES ld.bfd ld)
find_program(CMIX_OBJCOPY NAMES objcopy)
if(NOT CMIX_NASM OR NOT CMIX_LD OR NOT CMIX_OBJCOPY)
  set(cmix_skip "nasm, ld or objcopy was not found at configure time")
else()
  # Which compiler makes i386 objects here: gcc -m32 first (it needs no
  # multilib for -c), else Debian's i686 cross compiler. Tried on a small
  # file, compiled and linked the way the image is.
  set(cmix_try ${CMAKE_CURRENT_BINARY_DIR}/cmix_try)
  file(MAKE_DIRECTORY ${cmix_try})
  file(WRITE ${cmix_try}/t.c "unsigned f(unsigned x); unsigned f(unsigned x) { return x * 3u; }\n")
  find_program(CMIX_GCC gcc)
  find_program(CMIX_I686_GCC i686-linux-gnu-gcc)
  set(CMIX_GUEST_CC "")
  foreach(cc IN ITEMS ${CMIX_GCC} ${CMIX_I686_GCC})
    if(cc AND NOT CMIX_GUEST_CC)
      execute_process(COMMAND ${cc} ${CMIX_GUEST_FLAGS} -c t.c -o t.o
                      WORKING_DIRECTORY ${cmix_try} RESULT_VARIABLE rc_cc OUTPUT_QUIET ERROR_QUIET)
      if(rc_cc EQUAL 0)
        execute_process(COMMAND ${CMIX_LD} -m elf_i386 -static -Ttext=${CMIX_BASE} -e f
                                -o t.elf t.o
                        WORKING_DIRECTORY ${cmix_try} RESULT_VARIABLE rc_ld OUTPUT_QUIET
                        ERROR_QUIET)
        if(rc_ld EQUAL 0)
          set(CMIX_GUEST_CC ${cc})
        endif()
      endif()
    endif()
  endforeach()
  if(NOT CMIX_GUEST_CC)
    set(cmix_skip "neither gcc -m32 nor i686-linux-gnu-gcc makes i386 objects that ld -m elf_i386 links")
  endif()
endif()

if(cmix_skip)
  message(STATUS "guest-bench: the c-mix case is skipped: ${cmix_skip}")
  target_compile_definitions(guest-bench PRIVATE "MMUSIM_CMIX_SKIP=\"${cmix_skip}\"")
else()
  message(STATUS "guest-bench: c-mix guest compiler: ${CMIX_GUEST_CC}")
  set(cmix_image ${CMIX_OUT}/cmix.bin)
  add_custom_command(OUTPUT ${cmix_image}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMIX_OUT}
    COMMAND ${CMIX_GUEST_CC} ${CMIX_GUEST_FLAGS} -c ${CMIX_SRC}/cmix.c -o ${CMIX_OUT}/cmix.o
    COMMAND ${CMIX_NASM} -f elf32 -DSTACK_TOP=${CMIX_STACK_TOP} -o ${CMIX_OUT}/cmix_entry.o
            ${CMIX_SRC}/cmix_entry.asm
    COMMAND ${CMIX_LD} -m elf_i386 -static -Ttext=${CMIX_BASE} -e _start
            -o ${CMIX_OUT}/cmix.elf ${CMIX_OUT}/cmix_entry.o ${CMIX_OUT}/cmix.o
    COMMAND ${CMIX_OBJCOPY} -O binary ${CMIX_OUT}/cmix.elf ${cmix_image}
    DEPENDS ${CMIX_SRC}/cmix.c ${CMIX_SRC}/cmix.h ${CMIX_SRC}/cmix_entry.asm
    COMMENT "Building guest-bench's c-mix image (i386, gcc -O2) cmix.bin"
    VERBATIM)
  add_custom_target(guest_bench_cmix DEPENDS ${cmix_image})
  add_dependencies(guest-bench guest_bench_cmix)
  target_compile_definitions(guest-bench PRIVATE "MMUSIM_CMIX_IMAGE=\"${cmix_image}\""
                             MMUSIM_CMIX_BASE=${CMIX_BASE} MMUSIM_CMIX_STACK_TOP=${CMIX_STACK_TOP})
endif()
