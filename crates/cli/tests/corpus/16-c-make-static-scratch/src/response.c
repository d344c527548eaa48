#include <stdio.h>
#include <string.h>
#include "response.h"

size_t response(char *buf, size_t len, const char *body) {
	int n = snprintf(buf, len, "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s", strlen(body), body);
	return n < 0 ? 0 : (size_t)n;
}
