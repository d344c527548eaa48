#ifndef RESPONSE_H
#define RESPONSE_H
#include <stddef.h>
size_t response(char *buf, size_t len, const char *body);
#endif
