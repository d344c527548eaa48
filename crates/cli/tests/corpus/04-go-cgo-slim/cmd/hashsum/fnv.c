#include "../../csrc/fnv.h"

uint32_t fnv1a(const char *data, size_t len) {
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 16777619u;
	}
	return h;
}
