/*
 * backoff.h — retry delays of the report daemon (pure C, no I/O).
 */
#ifndef MEDCRM_REPORT_BACKOFF_H
#define MEDCRM_REPORT_BACKOFF_H

/*
 * Exponential backoff: the delay before retry number attempt (1, 2, …) is
 * base, 2·base, 4·base, … and never more than cap; 0 when base is 0 or
 * attempt < 1. Used for failed runs and deliveries (retry_base_seconds,
 * retry_max_seconds) and for reconnecting to the database (0.5 s … 30 s).
 */
extern double backoff_delay(int attempt, double base, double cap);

#endif
