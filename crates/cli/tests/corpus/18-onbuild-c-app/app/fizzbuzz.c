#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 15;
	for (int i = 1; i <= n; i++) {
		if (i % 15 == 0) puts("FizzBuzz");
		else if (i % 3 == 0) puts("Fizz");
		else if (i % 5 == 0) puts("Buzz");
		else printf("%d\n", i);
	}
	return 0;
}
