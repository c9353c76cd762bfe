/*
 * backoff.c — retry delays of the report daemon (pure C, no I/O).
 */
#include "backoff.h"

double
backoff_delay(int attempt, double base, double cap)
{
	double		d = base;

	if (attempt < 1 || base <= 0)
		return 0;
	for (int i = 1; i < attempt && d < cap; i++)
		d *= 2;
	return d < cap ? d : cap;
}
