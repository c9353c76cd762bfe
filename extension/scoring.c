/*
 * scoring.c — the arithmetic of tier scoring, on plain C structures.
 *
 * A model gives every factor a weight (its points at normalised value 1), a
 * normalisation that maps the raw value onto [0, 1] and a direction. The
 * score is the sum of weight * normalised value, each term rounded once to a
 * thousandth of a point, plus the segment adjustments that apply, kept inside
 * [0, 100]. Tiers follow from the score by the model's thresholds.
 *
 * Nothing here touches the catalog, SPI or memory contexts: scoring one
 * account is a few dozen floating-point operations, which is what lets
 * rescore() grade a million accounts in well under a second of CPU.
 */
#include "postgres.h"

#include <math.h>

#include "scoring.h"

const char *const tier_factor_names[TIER_NFACTORS] = {
	"purchase_value_12m",
	"gross_margin_12m",
	"order_count_12m",
	"order_months_12m",
	"service_cost_12m",
	"service_hours_12m",
	"days_late_mean",
	"on_time_share",
	"overdue_amount",
	"installed_base",
	"grade_points",
	"growth",
	"compliance_issues",
	"coverage",
	"response_hours_mean"
};

const char *const tier_segment_names[TIER_NSEGMENTS] = {
	"kind",
	"region",
	"province",
	"city",
	"hospital_grade",
	"procurement_mode",
	"service_level",
	"lifecycle_stage"
};

static int
name_lookup(const char *const *names, int n, const char *name, int len)
{
	int			i;

	for (i = 0; i < n; i++)
		if ((int) strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
			return i;
	return -1;
}

/* Index of a factor name (not NUL-terminated), or -1. */
int
tier_factor_lookup(const char *name, int len)
{
	return name_lookup(tier_factor_names, TIER_NFACTORS, name, len);
}

/* Index of a segment column name (not NUL-terminated), or -1. */
int
tier_segment_lookup(const char *name, int len)
{
	return name_lookup(tier_segment_names, TIER_NSEGMENTS, name, len);
}

static inline double
clamp01(double x)
{
	if (!(x > 0.0))				/* also NaN */
		return 0.0;
	if (x > 1.0)
		return 1.0;
	return x;
}

/*
 * Position of x among non-decreasing breakpoints b[0..n-1], as a fraction of
 * the n - 1 intervals: b[0] and below is 0, b[n-1] and above is 1, linear in
 * between. Equal breakpoints (a value shared by many accounts) form empty
 * intervals that x jumps over.
 */
static double
percentile_position(const double *b, int n, double x)
{
	int			lo;
	int			hi;

	if (x <= b[0])
		return 0.0;
	if (x >= b[n - 1])
		return 1.0;
	/* binary search for the last i with b[i] <= x */
	lo = 0;
	hi = n - 1;
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) / 2;

		if (b[mid] <= x)
			lo = mid;
		else
			hi = mid;
	}
	/* b[lo] <= x < b[hi], hence b[hi] > b[lo] */
	return (lo + (x - b[lo]) / (b[hi] - b[lo])) / (n - 1);
}

/*
 * The normalised value in [0, 1] of one factor: higher is always better after
 * the direction has been applied. A NULL raw value (no invoice fell due, not a
 * hospital, ...) takes the model's "missing" value as it is.
 */
double
tier_normalize(const TierFactorSpec *spec, double raw, bool isnull)
{
	double		n;

	if (isnull || isnan(raw))
		return spec->missing;

	switch (spec->norm)
	{
		case TIER_NORM_CAP:
			n = clamp01(raw / spec->cap);
			break;
		case TIER_NORM_LOG:
			n = raw > 0.0 ? clamp01(log1p(raw) / log1p(spec->cap)) : 0.0;
			break;
		case TIER_NORM_RANGE:
			n = clamp01((raw - spec->min) / (spec->max - spec->min));
			break;
		case TIER_NORM_PERCENTILE:
			n = percentile_position(spec->breaks, spec->nbreaks, raw);
			break;
		default:
			n = 0.0;			/* can't happen: the parser only sets the above */
			break;
	}
	return spec->lower_is_better ? 1.0 - n : n;
}

static bool
condition_matches(const TierCondition *cond, const TierInput *input)
{
	const char *v = input->segment[cond->segment];
	int			len = input->segment_len[cond->segment];
	int			i;

	if (v == NULL)
		return false;
	for (i = 0; i < cond->nvalues; i++)
		if (cond->lengths[i] == len && memcmp(cond->values[i], v, len) == 0)
			return true;
	return false;
}

static bool
adjustment_applies(const TierAdjustment *adj, const TierInput *input)
{
	int			i;

	if (adj->has_from && input->as_of < adj->from_date)
		return false;
	if (adj->has_to && input->as_of >= adj->to_date)
		return false;
	for (i = 0; i < adj->nconds; i++)
		if (!condition_matches(&adj->conds[i], input))
			return false;
	return true;
}

/*
 * The score of one account in milli-points, 0 to 100000. With a non-NULL
 * explanation, also what each factor and adjustment contributed; the
 * contributions, the applied adjustments and bound_milli sum to the result.
 */
int64
tier_score_milli(const TierModel *model, const TierInput *input,
				 TierExplanation *explanation)
{
	int64		sum = 0;
	int			i;

	for (i = 0; i < model->nspecs; i++)
	{
		const TierFactorSpec *spec = &model->specs[i];
		double		n = tier_normalize(spec, input->value[spec->factor],
									   input->isnull[spec->factor]);
		int64		c = (int64) llround(spec->weight * n * 1000.0);

		sum += c;
		if (explanation)
		{
			explanation->normalized[i] = n;
			explanation->contribution_milli[i] = c;
		}
	}

	for (i = 0; i < model->nadjustments; i++)
	{
		bool		applies = adjustment_applies(&model->adjustments[i], input);

		if (applies)
			sum += model->adjustments[i].add_milli;
		if (explanation && explanation->applied)
			explanation->applied[i] = applies;
	}

	if (explanation)
		explanation->bound_milli = 0;
	if (sum < 0)
	{
		if (explanation)
			explanation->bound_milli = -sum;
		sum = 0;
	}
	else if (sum > TIER_SCORE_MAX_MILLI)
	{
		if (explanation)
			explanation->bound_milli = TIER_SCORE_MAX_MILLI - sum;
		sum = TIER_SCORE_MAX_MILLI;
	}
	return sum;
}

/* A, B, C or D: the first tier whose minimum score is reached. */
char
tier_for_score(const TierModel *model, int64 score_milli)
{
	if (score_milli >= model->threshold_milli[0])
		return 'A';
	if (score_milli >= model->threshold_milli[1])
		return 'B';
	if (score_milli >= model->threshold_milli[2])
		return 'C';
	return 'D';
}
