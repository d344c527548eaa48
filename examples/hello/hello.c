/* The seeds' hello world: a static program that needs nothing else in its image. */
#include <stdio.h>

int main(void) {
    printf("Hello from strata!\n");
    printf("This image is FROM scratch: one static binary, added by a Dockerfile.\n");
    return 0;
}
