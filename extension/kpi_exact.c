/*
 * kpi_exact.c — exact sums of numeric values for the KPI engine.
 *
 * The KPI engine sums millions of numeric(14,2) values (order margins,
 * invoice amounts) and numeric seconds (response and resolution times).
 * numeric_add() per row costs about 100 ns and a palloc; instead each value
 * is decoded once into an int128 count of millionths (KPI_EXACT_SCALE = 6
 * decimal places) and added as an integer, which is exact: a value with at
 * most 6 decimal places is an integer number of millionths.
 *
 * The result must be the numeric that sum() returns, including its display
 * scale (dscale): numeric addition keeps the larger dscale of its operands,
 * so a sum remembers the largest dscale of the values added, and
 * kpi_exact_to_numeric() builds the numeric with exactly that dscale.
 *
 * Decoding reads the numeric's on-disk format, which PostgreSQL keeps stable
 * across releases (pg_upgrade copies numeric columns as they are; see
 * src/backend/utils/adt/numeric.c):
 *
 *	 varlena header, then a uint16 header word:
 *	   0xC000 set  = special value (NaN, +-Infinity)
 *	   0x8000 only = short format: 0x2000 sign (negative), 0x1F80 dscale
 *					 (>> 7), 0x0040 weight sign, 0x003F weight magnitude;
 *					 the base-10000 digits follow
 *	   otherwise   = long format: 0x4000 sign (negative), 0x3FFF dscale; an
 *					 int16 weight follows, then the digits
 *	 value = sum of digit[i] * 10000^(weight - i), digits are int16 0..9999.
 *
 * Anything unexpected (special values, more than 6 decimal places, a value
 * of 10^28 or more) is not decoded: the sum then switches to numeric
 * arithmetic (numeric_add) for good, so the result is still exact.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"

#include "kpi.h"

#define NUM_SPECIAL		0xC000
#define NUM_SHORT		0x8000
#define NUM_NEG			0x4000
#define NUM_SHORT_NEG	0x2000
#define NUM_SHORT_DSCALE_MASK	0x1F80
#define NUM_SHORT_DSCALE_SHIFT	7
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_DSCALE_MASK	0x3FFF
#define NUM_MAX_WEIGHT	6		/* digits up to 10000^6 * 9999 < 10^28 */

/* 10^k as int128, k = 0 .. 36 (10^36 < 2^127) */
static int128 pow10_table[37];

static inline int128
pow10_128(int k)
{
	if (unlikely(pow10_table[0] == 0))
	{
		int			i;

		pow10_table[0] = 1;
		for (i = 1; i < lengthof(pow10_table); i++)
			pow10_table[i] = pow10_table[i - 1] * 10;
	}
	Assert(k >= 0 && k < lengthof(pow10_table));
	return pow10_table[k];
}

bool
kpi_exact_decode(Datum num, int128 *units, int32 *dscale)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(num);
	const char *p;
	int			len;
	uint16		header;
	int			weight;
	bool		negative;
	int			ndigits;
	int128		acc = 0;
	int			i;

	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		v = pg_detoast_datum_packed(v);
	p = VARDATA_ANY(v);
	len = VARSIZE_ANY_EXHDR(v);
	if (len < (int) sizeof(uint16))
		return false;
	memcpy(&header, p, sizeof(uint16));
	if ((header & NUM_SPECIAL) == NUM_SPECIAL)
		return false;
	if (header & NUM_SHORT)
	{
		negative = (header & NUM_SHORT_NEG) != 0;
		*dscale = (header & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		weight = (header & NUM_SHORT_WEIGHT_MASK);
		if (header & NUM_SHORT_WEIGHT_SIGN)
			weight |= ~NUM_SHORT_WEIGHT_MASK;
		p += sizeof(uint16);
		len -= sizeof(uint16);
	}
	else
	{
		int16		w;

		if (len < (int) (2 * sizeof(uint16)))
			return false;
		negative = (header & NUM_SPECIAL) == NUM_NEG;
		*dscale = header & NUM_DSCALE_MASK;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		weight = w;
		p += 2 * sizeof(uint16);
		len -= 2 * sizeof(uint16);
	}
	if (*dscale > KPI_EXACT_SCALE || weight > NUM_MAX_WEIGHT)
		return false;
	ndigits = len / (int) sizeof(int16);
	for (i = 0; i < ndigits; i++)
	{
		int16		digit;
		int			exp10;		/* digit * 10^exp10 millionths */

		memcpy(&digit, p + i * sizeof(int16), sizeof(int16));
		if (digit == 0)
			continue;
		exp10 = 4 * (weight - i) + KPI_EXACT_SCALE;
		if (exp10 >= 0)
			acc += (int128) digit * pow10_128(exp10);
		else if (exp10 == -2 && digit % 100 == 0)
			acc += digit / 100;
		else
			return false;		/* finer than a millionth */
	}
	*units = negative ? -acc : acc;
	return true;
}

/* numeric of units / 10^KPI_EXACT_SCALE with display scale dscale (0..6) */
static Datum
units_to_numeric(int128 units, int32 dscale)
{
	int128		scaled = units / pow10_128(KPI_EXACT_SCALE - dscale);	/* exact */
	int128		base = (int128) 1000000000000000000LL;	/* 10^18 */
	int64		hi;
	int64		lo;
	Datum		r;

	if (scaled >= PG_INT64_MIN && scaled <= PG_INT64_MAX)
		return NumericGetDatum(int64_div_fast_to_numeric((int64) scaled, dscale));
	/* scaled = hi * 10^18 + lo: hi * 10^(18 - dscale) + lo / 10^dscale */
	hi = (int64) (scaled / base);
	lo = (int64) (scaled % base);
	r = DirectFunctionCall2(numeric_mul,
							NumericGetDatum(int64_to_numeric(hi)),
							NumericGetDatum(int64_to_numeric((int64) pow10_128(18 - dscale))));
	return DirectFunctionCall2(numeric_add, r,
							   NumericGetDatum(int64_div_fast_to_numeric(lo, dscale)));
}

/*
 * s->slow += num (s->slow set). The sum it replaces is freed: once a sum has
 * gone slow, every later row adds to it, and a million rows must not leave
 * a million numerics behind.
 */
static void
slow_add(KpiExact *s, Datum num)
{
	Datum		old = s->slow;

	s->slow = DirectFunctionCall2(numeric_add, old, num);
	if (s->slow != old)
		pfree(DatumGetPointer(old));
}

void
kpi_exact_add_slow(KpiExact *s, int128 units, int32 dscale)
{
	Datum		num = units_to_numeric(units, dscale);

	slow_add(s, num);
	pfree(DatumGetPointer(num));
}

void
kpi_exact_add_numeric(KpiExact *s, Datum num)
{
	int128		units;
	int32		dscale;

	if (!s->slow && kpi_exact_decode(num, &units, &dscale))
	{
		kpi_exact_add_units(s, units, dscale);
		return;
	}
	if (!s->slow)
		s->slow = units_to_numeric(s->units, s->dscale);
	slow_add(s, num);
}

void
kpi_exact_merge(KpiExact *dst, const KpiExact *src)
{
	if (src->slow)
	{
		if (!dst->slow)
			dst->slow = units_to_numeric(dst->units, dst->dscale);
		slow_add(dst, src->slow);
	}
	else
		kpi_exact_add_units(dst, src->units, src->dscale);
}

bool
kpi_exact_is_zero(const KpiExact *s)
{
	if (s->slow)
		return DatumGetBool(DirectFunctionCall2(numeric_eq, s->slow,
												NumericGetDatum(int64_to_numeric(0))));
	return s->units == 0;
}

Datum
kpi_exact_to_numeric(const KpiExact *s)
{
	if (s->slow)
		return s->slow;
	return units_to_numeric(s->units, s->dscale);
}
