#include <ctype.h>
#include <stdio.h>
#include "config.h"

int main(void) {
	int c;
	while ((c = getchar()) != EOF) {
		if (isalpha(c)) {
			int base = isupper(c) ? 'A' : 'a';
			c = (c - base + 13) % 26 + base;
		}
		putchar(c);
	}
	fprintf(stderr, "rot13 (prefix %s, strlcpy %d)\n", PREFIX, HAVE_STRLCPY);
	return 0;
}
