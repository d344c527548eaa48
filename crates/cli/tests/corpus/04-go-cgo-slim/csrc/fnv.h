#include <stdint.h>
#include <stddef.h>
uint32_t fnv1a(const char *data, size_t len);
