/*
 * kpi_cover.c — period coverage masks of the KPI engine.
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
 * kpi_cover_add() folds the events of one entity, in any order, into one
 * 64-bit state, so that a million accounts need a million words and no
 * sort of millions of orders:
 *
 *	 bits  0..30  periods covered by at least one event ("once" mask)
 *	 bits 32..62  periods covered by at least two events ("twice" mask)
 *
 * Adding an event with mask x: twice |= once & x; once |= x. The result does
 * not depend on the order of the events. The reference engine of the tests
 * (test/scripts/kpi_reference_engine.sql) counts the same coverage in plain
 * SQL, without these bits.
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
