// The platform tag: which machines can load a module built here. A worker is
// only sent modules whose tag equals its own (architecture, OS, C++ library ABI).
#pragma once

#if defined(__x86_64__)
#define UNI_PLATFORM_ARCH "x86_64"
#elif defined(__aarch64__)
#define UNI_PLATFORM_ARCH "aarch64"
#elif defined(__riscv) && __riscv_xlen == 64
#define UNI_PLATFORM_ARCH "riscv64"
#else
#error "uni: unsupported architecture"
#endif

#if defined(__linux__)
#define UNI_PLATFORM_OS "linux"
#else
#error "uni: unsupported operating system"
#endif

// A module links the C++ runtime of its build and the worker must provide the
// same one, so the C++ library and its string ABI are part of the tag.
#include <cstddef>
#if defined(__GLIBCXX__) && _GLIBCXX_USE_CXX11_ABI
#define UNI_PLATFORM_CXXLIB "libstdc++-cxx11"
#elif defined(__GLIBCXX__)
#define UNI_PLATFORM_CXXLIB "libstdc++"
#elif defined(_LIBCPP_VERSION)
#define UNI_PLATFORM_CXXLIB "libc++"
#else
#error "uni: unsupported C++ standard library"
#endif

#define UNI_PLATFORM_TAG UNI_PLATFORM_ARCH "-" UNI_PLATFORM_OS "-" UNI_PLATFORM_CXXLIB
