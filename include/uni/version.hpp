// uni release version.
#pragma once

#define UNI_VERSION_MAJOR 0
#define UNI_VERSION_MINOR 1
#define UNI_VERSION_PATCH 0
#define UNI_VERSION_STRING "0.1.0"
