/*
 * scoring.h — tier scoring: the factor catalogue, the parsed form of a
 * tier_model row, and the pure scoring arithmetic.
 *
 * scoring.c holds the arithmetic (normalisation, weighted sum, segment
 * adjustments, thresholds) on plain C structures, with no catalog or SPI
 * access, so that it can be reasoned about and tested on its own.
 * scoring_model.c turns the JSON of a tier_model row into a TierModel and
 * validates it; scoring_sql.c is the SQL-facing layer (score_account,
 * explain_tier, rescore, activate_model, score_factors).
 *
 * Scores are kept in integer thousandths of a point ("milli-points"): every
 * contribution is rounded to 0.001 once, and the score is the exact sum of the
 * rounded contributions. That is what makes explain_tier add up to the score
 * exactly, and tier thresholds compare exactly.
 */
#ifndef MEDCRM_SCORING_H
#define MEDCRM_SCORING_H

/* The factors of medcrm.account_factors(), in explain_tier order. */
typedef enum TierFactor
{
	TF_PURCHASE_VALUE_12M,
	TF_GROSS_MARGIN_12M,
	TF_ORDER_COUNT_12M,
	TF_ORDER_MONTHS_12M,
	TF_SERVICE_COST_12M,
	TF_SERVICE_HOURS_12M,
	TF_DAYS_LATE_MEAN,
	TF_ON_TIME_SHARE,
	TF_OVERDUE_AMOUNT,
	TF_INSTALLED_BASE,
	TF_GRADE_POINTS,
	TF_GROWTH,
	TF_COMPLIANCE_ISSUES,
	TF_COVERAGE,
	TF_RESPONSE_HOURS_MEAN,
	TIER_NFACTORS
} TierFactor;

/* The segment columns that adjustments may match. */
typedef enum TierSegment
{
	TS_KIND,
	TS_REGION,
	TS_PROVINCE,
	TS_CITY,
	TS_HOSPITAL_GRADE,
	TS_PROCUREMENT_MODE,
	TS_SERVICE_LEVEL,
	TS_LIFECYCLE_STAGE,
	TIER_NSEGMENTS
} TierSegment;

extern const char *const tier_factor_names[TIER_NFACTORS];
extern const char *const tier_segment_names[TIER_NSEGMENTS];

typedef enum TierNorm
{
	TIER_NORM_CAP,				/* x / cap, clamped to [0, 1] */
	TIER_NORM_LOG,				/* ln(1 + x) / ln(1 + cap), clamped */
	TIER_NORM_RANGE,			/* (x - min) / (max - min), clamped */
	TIER_NORM_PERCENTILE		/* position among calibrated breakpoints */
} TierNorm;

typedef struct TierFactorSpec
{
	TierFactor	factor;
	double		weight;			/* points at normalised value 1 */
	TierNorm	norm;
	double		cap;			/* cap, log */
	double		min;			/* range */
	double		max;			/* range */
	int			nbreaks;		/* percentile: number of breakpoints (>= 2) */
	double	   *breaks;			/* percentile: non-decreasing breakpoints */
	bool		lower_is_better;
	double		missing;		/* normalised value used when raw is NULL */
} TierFactorSpec;

/* One condition of an adjustment: segment column in a set of values. */
typedef struct TierCondition
{
	TierSegment segment;
	int			nvalues;
	char	  **values;
	int		   *lengths;
} TierCondition;

typedef struct TierAdjustment
{
	char	   *label;			/* shown in explain_tier */
	int			nconds;
	TierCondition *conds;		/* all must match */
	int64		add_milli;
	bool		has_from;		/* applies from this date on (as_of >= from) */
	int32		from_date;		/* DateADT */
	bool		has_to;			/* applies before this date (as_of < to) */
	int32		to_date;		/* DateADT */
} TierAdjustment;

typedef struct TierModel
{
	int32		id;
	int			nspecs;
	TierFactorSpec specs[TIER_NFACTORS];	/* in catalogue order */
	int64		threshold_milli[3]; /* minimum score of A, B, C */
	int			nadjustments;
	TierAdjustment *adjustments;
	bool		uses_segments;	/* any adjustment (segments must be read) */
} TierModel;

/* One account's factors as the scorer sees them. */
typedef struct TierInput
{
	double		value[TIER_NFACTORS];
	bool		isnull[TIER_NFACTORS];
	const char *segment[TIER_NSEGMENTS];	/* not NUL-terminated; NULL = SQL NULL */
	int			segment_len[TIER_NSEGMENTS];
	int32		as_of;			/* DateADT */
} TierInput;

/*
 * What scoring one account produced, for explain_tier: per spec the
 * normalised value and the contribution, per adjustment whether it applied,
 * and the correction that kept the score inside [0, 100].
 */
typedef struct TierExplanation
{
	double		normalized[TIER_NFACTORS];
	int64		contribution_milli[TIER_NFACTORS];
	bool	   *applied;		/* nadjustments entries, or NULL */
	int64		bound_milli;	/* 0 unless the raw sum left [0, 100] */
} TierExplanation;

#define TIER_SCORE_MAX_MILLI	INT64CONST(100000)

extern double tier_normalize(const TierFactorSpec *spec, double raw, bool isnull);
extern int64 tier_score_milli(const TierModel *model, const TierInput *input,
							  TierExplanation *explanation);
extern char tier_for_score(const TierModel *model, int64 score_milli);
extern int	tier_factor_lookup(const char *name, int len);
extern int	tier_segment_lookup(const char *name, int len);

/* scoring_model.c */
extern TierModel *tier_model_parse(int32 id, Datum weights, Datum thresholds,
								   Datum adjustments, MemoryContext cxt);
extern TierModel *tier_model_get(int32 id);
extern int32 tier_model_active_id(void);

#endif							/* MEDCRM_SCORING_H */
