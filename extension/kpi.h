/*
 * kpi.h — declarations shared by the C files of the KPI engine
 * (kpi_cover.c, kpi_exact.c, kpi_dq.c, kpi_engine.c).
 */
#ifndef MEDCRM_KPI_H
#define MEDCRM_KPI_H

/* ---- kpi_cover.c: period coverage masks ---------------------------------- */

/* At most this many consecutive periods per call: bits 0..30 of a mask. */
#define KPI_COVER_PERIODS	31
#define KPI_COVER_LOW		((uint64) 0x7FFFFFFF)

/* Mask of the periods lo..hi, clipped to 0..30; 0 when the range is empty. */
extern uint64 kpi_cover_range_mask(int32 lo, int32 hi);
/* The state (once | twice << 32) after one more event covering lo..hi. */
extern uint64 kpi_cover_add(uint64 state, int32 lo, int32 hi);

/* ---- kpi_exact.c: exact sums of numeric values ---------------------------- */

/*
 * An exact sum of numeric values, kept as an integer count of millionths
 * (KPI_EXACT_SCALE decimal places) plus the largest display scale (dscale)
 * of the values added, which is what numeric addition keeps as the scale of
 * its result. A value that does not fit (NaN, more than 6 decimal places,
 * 10^28 or more) switches the sum to numeric arithmetic for good ("slow",
 * a numeric Datum), so the result is always the one numeric sum() gives.
 */
#define KPI_EXACT_SCALE		6

typedef struct KpiExact
{
	int128		units;			/* value * 10^KPI_EXACT_SCALE */
	int32		dscale;			/* max dscale of the values added */
	Datum		slow;			/* numeric sum once units cannot hold it, else 0 */
} KpiExact;

/* Decode a numeric Datum into units; false when it does not fit. */
extern bool kpi_exact_decode(Datum num, int128 *units, int32 *dscale);
extern void kpi_exact_add_numeric(KpiExact *s, Datum num);
extern void kpi_exact_add_slow(KpiExact *s, int128 units, int32 dscale);
extern void kpi_exact_merge(KpiExact *dst, const KpiExact *src);
extern bool kpi_exact_is_zero(const KpiExact *s);
extern Datum kpi_exact_to_numeric(const KpiExact *s);

/* Add units (millionths) of a value of display scale dscale: the hot path. */
static inline void
kpi_exact_add_units(KpiExact *s, int128 units, int32 dscale)
{
	if (unlikely(s->slow))
	{
		kpi_exact_add_slow(s, units, dscale);
		return;
	}
	s->units += units;
	if (dscale > s->dscale)
		s->dscale = dscale;
}

/* ---- kpi_dq.c: accounts with data-quality findings (parallel worker) ------ */

typedef struct KpiDqReader KpiDqReader;

/* Start reading the account ids of medcrm.v_data_quality (in a worker if possible). */
extern KpiDqReader *kpi_dq_start(void);
/* How many workers run it. */
extern int	kpi_dq_workers(const KpiDqReader *rd);
/* Collect what has arrived so far, without waiting. */
extern void kpi_dq_poll(KpiDqReader *rd);
/* All the ids (distinct, unordered); ends the worker. */
extern const int64 *kpi_dq_finish(KpiDqReader *rd, Size *n);

#endif							/* MEDCRM_KPI_H */
