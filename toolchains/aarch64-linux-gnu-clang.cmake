# Cross-compile for 64-bit Arm Linux with clang, using the GNU cross
# toolchain's libc, crt files, libgcc and linker
# (apt: clang gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user).
#   cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=aarch64-linux-gnu-clang.cmake \
#         [-DHLF_CPU=generic] [-DHLF_STATIC=ON] [-DHLF_KERNELS=scalar]
# Self-contained: the part below the compilers is the same in
# aarch64-linux-gnu.cmake; keep the two in step.
set(CMAKE_C_COMPILER   clang)
set(CMAKE_CXX_COMPILER clang++)
set(CMAKE_C_COMPILER_TARGET   aarch64-linux-gnu)   # --target=aarch64-linux-gnu
set(CMAKE_CXX_COMPILER_TARGET aarch64-linux-gnu)
set(CMAKE_ASM_COMPILER_TARGET aarch64-linux-gnu)   # the weights blob (.S) of large models
# --gcc-toolchain=/usr: crt*.o and libgcc from /usr/lib/gcc-cross/aarch64-linux-gnu/<ver>,
# libc from /usr/aarch64-linux-gnu, linking with aarch64-linux-gnu-ld
set(CMAKE_C_COMPILER_EXTERNAL_TOOLCHAIN   /usr)
set(CMAKE_CXX_COMPILER_EXTERNAL_TOOLCHAIN /usr)

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

# HLF_CPU: cortex-a73 -> -mcpu=cortex-a73; generic -> -march=armv8-a
set(HLF_CPU cortex-a73 CACHE STRING "Target CPU for -mcpu (generic: -march=armv8-a)")
# HLF_STATIC: link with -static so the program runs on any aarch64 Linux board,
# whatever its libc
option(HLF_STATIC "Link executables with -static" OFF)
# HLF_KERNELS: which kernel sources the generated CMakeLists.txt compiles
# (neon here; the host default there is scalar)
set(HLF_KERNELS neon CACHE STRING "Kernel flavour: neon or scalar")
# try_compile() projects do not see our cache: hand these on to them
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HLF_CPU HLF_STATIC)

if(HLF_CPU STREQUAL "generic")
  set(_hlf_arch "-march=armv8-a")
else()
  set(_hlf_arch "-mcpu=${HLF_CPU}")
endif()
set(CMAKE_C_FLAGS_INIT   "${_hlf_arch}")
set(CMAKE_CXX_FLAGS_INIT "${_hlf_arch}")
if(HLF_STATIC)
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
endif()

# Target headers/libraries only from the cross root; build-time programs from the host
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and custom commands running target executables) go through qemu
# user-mode emulation; -L lets a dynamic program find its loader and libc.
find_program(HLF_QEMU qemu-aarch64 NO_CMAKE_FIND_ROOT_PATH)
if(HLF_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${HLF_QEMU};-L;/usr/aarch64-linux-gnu")
endif()
