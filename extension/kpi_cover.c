/*
 * kpi_cover.c — the period-coverage aggregate of the KPI engine.
 *
 * Several KPIs of DOMAIN.md count entities with at least one (or at least
 * two) events in a trailing window of each period: accounts with >= 1 and
 * >= 2 orders in the 12 months before the period end (repeat purchase rate),
 * devices with a preventive work order resolved in those 12 months (service
 * coverage), A accounts visited in the 30 days before the period end.
 * medcrm.kpi_series() computes up to 31 consecutive periods at once; each
 * event maps to the contiguous range [lo, hi] of period indexes whose window
 * holds it. Per entity we then need the periods covered by at least one and
 * by at least two of its events.
 *
 * The aggregate medcrm.kpi_cover(lo int, hi int) computes both in one pass
 * over unsorted events, with a by-value bigint state, so that a hash
 * aggregate over a million accounts stays small and no sort of millions of
 * orders is needed (SQL has no built-in aggregate for "covered twice"):
 *
 *	 bits  0..30  periods covered by at least one event ("once" mask)
 *	 bits 32..62  periods covered by at least two events ("twice" mask)
 *
 * Adding an event with mask x: twice |= once & x; once |= x. The result does
 * not depend on the order of the events, and two partial states combine as
 * once = a.once | b.once, twice = a.twice | b.twice | (a.once & b.once), so
 * the aggregate is parallel safe.
 */
#include "postgres.h"

#include "fmgr.h"

#include "kpi.h"

/* ---------------------------------------------------------------------
 * Pure logic (no PostgreSQL calls), shared with kpi_engine.c (kpi.h).
 * ---------------------------------------------------------------------
 */

/* Mask of the periods lo..hi, clipped to 0..30; 0 when the range is empty. */
uint64
kpi_cover_range_mask(int32 lo, int32 hi)
{
	if (lo < 0)
		lo = 0;
	if (hi > KPI_COVER_PERIODS - 1)
		hi = KPI_COVER_PERIODS - 1;
	if (lo > hi)
		return 0;
	return (((uint64) 1 << (hi + 1)) - 1) & ~(((uint64) 1 << lo) - 1);
}

/* The state after one more event covering the periods lo..hi. */
uint64
kpi_cover_add(uint64 state, int32 lo, int32 hi)
{
	uint64		once = state & KPI_COVER_LOW;
	uint64		twice = (state >> 32) & KPI_COVER_LOW;
	uint64		x = kpi_cover_range_mask(lo, hi);

	twice |= once & x;
	once |= x;
	return once | (twice << 32);
}

/* The state of the union of two disjoint sets of events. */
uint64
kpi_cover_merge(uint64 a, uint64 b)
{
	uint64		a_once = a & KPI_COVER_LOW;
	uint64		b_once = b & KPI_COVER_LOW;
	uint64		twice = ((a >> 32) | (b >> 32) | (a_once & b_once)) & KPI_COVER_LOW;

	return a_once | b_once | (twice << 32);
}

/* ---------------------------------------------------------------------
 * SQL-callable wrappers.
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(medcrm_kpi_cover_step);
PG_FUNCTION_INFO_V1(medcrm_kpi_cover_combine);

/*
 * medcrm.kpi_cover_step(state bigint, lo int, hi int) RETURNS bigint
 * Transition function of medcrm.kpi_cover(); STRICT, so NULL events are
 * skipped and the initial state is the aggregate's initcond 0.
 */
Datum
medcrm_kpi_cover_step(PG_FUNCTION_ARGS)
{
	int64		state = PG_GETARG_INT64(0);
	int32		lo = PG_GETARG_INT32(1);
	int32		hi = PG_GETARG_INT32(2);

	if (state < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kpi_cover state %lld", (long long) state),
				 errdetail("A kpi_cover state is a non-negative bigint with period bits 0 to 30 and 32 to 62."),
				 errhint("Call medcrm.kpi_cover() as an aggregate instead of its transition function.")));
	PG_RETURN_INT64((int64) kpi_cover_add((uint64) state, lo, hi));
}

/*
 * medcrm.kpi_cover_combine(a bigint, b bigint) RETURNS bigint
 * Combine function of medcrm.kpi_cover() for parallel aggregation.
 */
Datum
medcrm_kpi_cover_combine(PG_FUNCTION_ARGS)
{
	int64		a = PG_GETARG_INT64(0);
	int64		b = PG_GETARG_INT64(1);

	if (a < 0 || b < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kpi_cover state"),
				 errdetail("A kpi_cover state is a non-negative bigint with period bits 0 to 30 and 32 to 62."),
				 errhint("Call medcrm.kpi_cover() as an aggregate instead of its combine function.")));
	PG_RETURN_INT64((int64) kpi_cover_merge((uint64) a, (uint64) b));
}
