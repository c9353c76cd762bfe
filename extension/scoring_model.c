/*
 * scoring_model.c — tier models: JSON to TierModel, validation, and a
 * per-backend cache of parsed models.
 *
 * A tier_model row holds three JSON documents (format in docs/tiering.md):
 *
 *   weights      {"<factor>": {"weight": 20, "norm": "log", "cap": 1500000,
 *                              "direction": "higher", "missing": 0}, ...}
 *   thresholds   {"A": 70, "B": 50, "C": 30}
 *   adjustments  [{"region": "East", "add": 5, "from": "2026-10-01",
 *                  "to": "2027-01-01", "label": "East tender season"}, ...]
 *
 * tier_model_parse() checks every rule of that format and refuses a model
 * with SQLSTATE 22023 (a shape error: unknown name, wrong JSON type) or 23514
 * (a value outside its allowed range: negative weight, thresholds not
 * strictly decreasing, ...), naming the offending element. It is used when a
 * model is activated (activate_model and the trigger on tier_model) and
 * whenever a model is scored with, so an invalid model never scores.
 *
 * Parsed models are cached per backend, keyed by model id and checked against
 * the row version (xmin and ctid) on each use: an edited or re-created model
 * is parsed again, an unchanged one costs a single index lookup.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "medcrm.h"
#include "scoring.h"

/* ---- error reporting ---------------------------------------------------- */

static void invalid_model(int sqlstate, int32 id, const char *what,
						  const char *detail, const char *hint) pg_attribute_noreturn();

static void
invalid_model(int sqlstate, int32 id, const char *what, const char *detail,
			  const char *hint)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("invalid tier model %d: %s", id, what),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
}

static const char *
factor_list(void)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < TIER_NFACTORS; i++)
		appendStringInfo(&s, "%s%s", i ? ", " : "", tier_factor_names[i]);
	return s.data;
}

static const char *
segment_list(void)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < TIER_NSEGMENTS; i++)
		appendStringInfo(&s, "%s%s", i ? ", " : "", tier_segment_names[i]);
	return s.data;
}

static const char *
json_type_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		case jbvArray:
			return "an array";
		case jbvObject:
			return "an object";
		default:
			return "an unknown JSON value";
	}
}

/* ---- JSON helpers ------------------------------------------------------- */

static bool
value_is_object(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
value_is_array(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data) &&
		!JsonContainerIsScalar(v->val.binary.data);
}

static double
numeric_value(const JsonbValue *v)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v->val.numeric)));
}

/* A number field of a JSON object; *found false when absent. */
static double
number_field(int32 id, JsonbContainer *obj, const char *key, const char *where,
			 bool required, bool *found)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);

	*found = (v != NULL);
	if (v == NULL)
	{
		if (required)
			invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
						  psprintf("%s has no \"%s\"", where, key),
						  psprintf("The \"%s\" field is required in %s.", key, where),
						  "Add the field with a JSON number.");
		return 0.0;
	}
	if (v->type != jbvNumeric)
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
					  psprintf("%s.%s is not a number", where, key),
					  psprintf("The value is %s.", json_type_name(v)),
					  "Write the value as a JSON number, e.g. 20 or 0.5.");
	return numeric_value(v);
}

/*
 * Iterate over the keys of a JSON object: calls fn(key, keylen, value) for
 * each member. Values that are containers come as jbvBinary.
 */
typedef void (*member_fn) (int32 id, const char *key, int keylen,
						   JsonbValue *value, void *arg);

static void
for_each_member(int32 id, JsonbContainer *obj, member_fn fn, void *arg)
{
	JsonbIterator *it = JsonbIteratorInit(obj);
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;
	int			keylen = 0;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = v.val.string.val;
			keylen = v.val.string.len;
		}
		else if (tok == WJB_VALUE)
			fn(id, key, keylen, &v, arg);
	}
}

/* ---- weights ------------------------------------------------------------ */

static const char *const spec_keys[] = {
	"weight", "norm", "cap", "min", "max", "breakpoints", "direction", "missing"
};

static void
check_spec_key(int32 id, const char *key, int keylen, JsonbValue *value, void *arg)
{
	const char *where = (const char *) arg;
	int			i;

	for (i = 0; i < lengthof(spec_keys); i++)
		if ((int) strlen(spec_keys[i]) == keylen && memcmp(spec_keys[i], key, keylen) == 0)
			return;
	invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
				  psprintf("unknown key \"%.*s\" in %s", keylen, key, where),
				  "A factor takes the keys weight, norm, cap, min, max, breakpoints, direction and missing.",
				  "Remove the key or correct its spelling.");
}

static char *
string_field(int32 id, JsonbContainer *obj, const char *key, const char *where)
{
	JsonbValue *v = getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);

	if (v == NULL)
		return NULL;
	if (v->type != jbvString)
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
					  psprintf("%s.%s is not a string", where, key),
					  psprintf("The value is %s.", json_type_name(v)),
					  "Write the value as a JSON string.");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

typedef struct WeightsState
{
	TierModel  *model;
	bool		seen[TIER_NFACTORS];
	TierFactorSpec specs[TIER_NFACTORS];
} WeightsState;

static void
parse_spec(int32 id, const char *key, int keylen, JsonbValue *value, void *arg)
{
	WeightsState *st = (WeightsState *) arg;
	int			f = tier_factor_lookup(key, keylen);
	TierFactorSpec *spec;
	JsonbContainer *obj;
	char	   *where;
	char	   *norm;
	char	   *direction;
	bool		found;

	if (f < 0)
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
					  psprintf("unknown factor \"%.*s\"", keylen, key),
					  psprintf("Known factors are: %s.", factor_list()),
					  "Use the column names of medcrm.account_factors().");
	where = psprintf("weights.%s", tier_factor_names[f]);
	if (!value_is_object(value))
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
					  psprintf("%s is not a JSON object", where),
					  psprintf("The value is %s.", json_type_name(value)),
					  "Write the factor as {\"weight\": 20, \"norm\": \"cap\", \"cap\": 100}.");
	obj = value->val.binary.data;
	for_each_member(id, obj, check_spec_key, where);

	st->seen[f] = true;
	spec = &st->specs[f];
	memset(spec, 0, sizeof(*spec));
	spec->factor = (TierFactor) f;

	spec->weight = number_field(id, obj, "weight", where, true, &found);
	if (!(spec->weight >= 0.0) || isinf(spec->weight))
		invalid_model(ERRCODE_CHECK_VIOLATION, id,
					  psprintf("%s.weight is negative", where),
					  psprintf("The weight is %.15g; weights are the points a factor can give and must be 0 or more.",
							   spec->weight),
					  "Use a weight of 0 or more; to reward a low value, set \"direction\": \"lower\".");

	norm = string_field(id, obj, "norm", where);
	if (norm == NULL)
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
					  psprintf("%s has no \"norm\"", where),
					  "Every factor needs a normalisation: cap, log, range or percentile.",
					  "Add \"norm\": \"cap\" with a \"cap\", for example.");
	if (strcmp(norm, "cap") == 0 || strcmp(norm, "log") == 0)
	{
		spec->norm = strcmp(norm, "cap") == 0 ? TIER_NORM_CAP : TIER_NORM_LOG;
		spec->cap = number_field(id, obj, "cap", where, true, &found);
		if (!(spec->cap > 0.0) || isinf(spec->cap))
			invalid_model(ERRCODE_CHECK_VIOLATION, id,
						  psprintf("%s.cap is not positive", where),
						  psprintf("The cap is %.15g; the raw value at the cap normalises to 1.", spec->cap),
						  "Use a cap greater than 0.");
	}
	else if (strcmp(norm, "range") == 0)
	{
		spec->norm = TIER_NORM_RANGE;
		spec->min = number_field(id, obj, "min", where, true, &found);
		spec->max = number_field(id, obj, "max", where, true, &found);
		if (!(spec->max > spec->min))
			invalid_model(ERRCODE_CHECK_VIOLATION, id,
						  psprintf("%s.min is not below max", where),
						  psprintf("min is %.15g and max is %.15g.", spec->min, spec->max),
						  "Make min the raw value that normalises to 0 and max, a greater one, the value that normalises to 1.");
	}
	else if (strcmp(norm, "percentile") == 0)
	{
		JsonbValue *b = getKeyJsonValueFromContainer(obj, "breakpoints", 11, NULL);
		JsonbIterator *it;
		JsonbValue	v;
		JsonbIteratorToken tok;
		int			n = 0;

		spec->norm = TIER_NORM_PERCENTILE;
		if (b == NULL || !value_is_array(b))
			invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
						  psprintf("%s.breakpoints is not an array", where),
						  "A percentile normalisation needs the calibrated quantiles of the factor as a JSON array of numbers.",
						  "Compute them with medcrm.factor_quantiles('<factor>') and store the result as \"breakpoints\".");
		spec->breaks = palloc(sizeof(double) * (JsonContainerSize(b->val.binary.data) + 1));
		it = JsonbIteratorInit(b->val.binary.data);
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			if (v.type != jbvNumeric)
				invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
							  psprintf("%s.breakpoints[%d] is not a number", where, n),
							  psprintf("The element is %s.", json_type_name(&v)),
							  "Breakpoints are numbers in non-decreasing order.");
			spec->breaks[n] = numeric_value(&v);
			if (n > 0 && spec->breaks[n] < spec->breaks[n - 1])
				invalid_model(ERRCODE_CHECK_VIOLATION, id,
							  psprintf("%s.breakpoints decrease", where),
							  psprintf("breakpoints[%d] = %.15g is below breakpoints[%d] = %.15g.",
									   n, spec->breaks[n], n - 1, spec->breaks[n - 1]),
							  "List the breakpoints in non-decreasing order, lowest quantile first.");
			n++;
		}
		if (n < 2 || spec->breaks[n - 1] <= spec->breaks[0])
			invalid_model(ERRCODE_CHECK_VIOLATION, id,
						  psprintf("%s.breakpoints span no range", where),
						  psprintf("There are %d breakpoints from %.15g to %.15g.", n,
								   n > 0 ? spec->breaks[0] : 0.0,
								   n > 0 ? spec->breaks[n - 1] : 0.0),
						  "Give at least two breakpoints with the last greater than the first.");
		spec->nbreaks = n;
	}
	else
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
					  psprintf("unknown normalisation \"%s\" in %s", norm, where),
					  "The normalisations are cap, log, range and percentile.",
					  "Use one of them as \"norm\".");

	direction = string_field(id, obj, "direction", where);
	if (direction == NULL || strcmp(direction, "higher") == 0)
		spec->lower_is_better = false;
	else if (strcmp(direction, "lower") == 0)
		spec->lower_is_better = true;
	else
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
					  psprintf("unknown direction \"%s\" in %s", direction, where),
					  "The direction says whether a higher raw value is better (\"higher\") or worse (\"lower\").",
					  "Use \"higher\" or \"lower\".");

	spec->missing = number_field(id, obj, "missing", where, false, &found);
	if (found && !(spec->missing >= 0.0 && spec->missing <= 1.0))
		invalid_model(ERRCODE_CHECK_VIOLATION, id,
					  psprintf("%s.missing is outside [0, 1]", where),
					  psprintf("missing is %.15g; it is the normalised value given when the raw value is NULL.",
							   spec->missing),
					  "Use a value from 0 (no points) to 1 (full weight).");
}

static void
parse_weights(TierModel *model, Jsonb *weights)
{
	WeightsState st;
	double		total = 0.0;
	int			f;

	if (!JB_ROOT_IS_OBJECT(weights))
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, model->id,
					  "weights is not a JSON object",
					  "weights maps factor names to their weight, normalisation and direction.",
					  "Write weights as {\"gross_margin_12m\": {\"weight\": 100, \"norm\": \"cap\", \"cap\": 1000000}}.");
	memset(&st, 0, sizeof(st));
	st.model = model;
	for_each_member(model->id, &weights->root, parse_spec, &st);

	model->nspecs = 0;
	for (f = 0; f < TIER_NFACTORS; f++)
	{
		if (!st.seen[f])
			continue;
		model->specs[model->nspecs++] = st.specs[f];
		total += st.specs[f].weight;
	}
	if (model->nspecs == 0)
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, model->id,
					  "weights names no factor",
					  "A model scores accounts on at least one factor.",
					  psprintf("Add factors from: %s.", factor_list()));
	if (fabs(total - 100.0) > 1e-9)
		invalid_model(ERRCODE_CHECK_VIOLATION, model->id,
					  "weights do not sum to 100",
					  psprintf("The weights sum to %.15g; a weight is the points its factor gives at best, and the best score is 100.",
							   total),
					  "Scale the weights so that they sum to 100.");
}

/* ---- thresholds --------------------------------------------------------- */

static void
check_threshold_key(int32 id, const char *key, int keylen, JsonbValue *value, void *arg)
{
	if (keylen == 1 && (key[0] == 'A' || key[0] == 'B' || key[0] == 'C'))
		return;
	invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
				  psprintf("unknown key \"%.*s\" in thresholds", keylen, key),
				  "thresholds holds the minimum scores of tiers A, B and C; every score below C is tier D.",
				  "Write thresholds as {\"A\": 70, \"B\": 50, \"C\": 30}.");
}

static void
parse_thresholds(TierModel *model, Jsonb *thresholds)
{
	static const char *const names[3] = {"A", "B", "C"};
	double		t[3];
	bool		found;
	int			i;

	if (!JB_ROOT_IS_OBJECT(thresholds))
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, model->id,
					  "thresholds is not a JSON object",
					  "thresholds holds the minimum scores of tiers A, B and C.",
					  "Write thresholds as {\"A\": 70, \"B\": 50, \"C\": 30}.");
	for_each_member(model->id, &thresholds->root, check_threshold_key, NULL);
	for (i = 0; i < 3; i++)
	{
		double		milli;

		t[i] = number_field(model->id, &thresholds->root, names[i], "thresholds", true, &found);
		if (!(t[i] >= 0.0 && t[i] <= 100.0))
			invalid_model(ERRCODE_CHECK_VIOLATION, model->id,
						  psprintf("threshold %s is outside [0, 100]", names[i]),
						  psprintf("Threshold %s is %.15g; scores run from 0 to 100.", names[i], t[i]),
						  "Use thresholds from 0 to 100.");
		milli = t[i] * 1000.0;
		if (fabs(milli - rint(milli)) > 1e-6)
			invalid_model(ERRCODE_CHECK_VIOLATION, model->id,
						  psprintf("threshold %s has more than three decimals", names[i]),
						  psprintf("Threshold %s is %.15g; scores are kept to 0.001.", names[i], t[i]),
						  "Round the threshold to three decimals.");
		model->threshold_milli[i] = (int64) rint(milli);
	}
	if (!(model->threshold_milli[0] > model->threshold_milli[1] &&
		  model->threshold_milli[1] > model->threshold_milli[2]))
		invalid_model(ERRCODE_CHECK_VIOLATION, model->id,
					  "thresholds are not strictly decreasing",
					  psprintf("A is %.15g, B is %.15g and C is %.15g.", t[0], t[1], t[2]),
					  "Make the minimum score of A greater than that of B, and B's greater than C's.");
}

/* ---- adjustments -------------------------------------------------------- */

static bool
parse_date(const char *s, int32 *result)
{
	int			y,
				m,
				d,
				consumed = 0;
	int			y2,
				m2,
				d2;
	int			j;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &consumed) != 3 ||
		consumed != 10 || s[10] != '\0' || y < 1 || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	j = date2j(y, m, d);
	j2date(j, &y2, &m2, &d2);
	if (y2 != y || m2 != m || d2 != d)
		return false;
	*result = j - POSTGRES_EPOCH_JDATE;
	return true;
}

typedef struct AdjustmentState
{
	TierModel  *model;
	TierAdjustment *adj;
	const char *where;
	StringInfoData label;
} AdjustmentState;

static void
parse_adjustment_member(int32 id, const char *key, int keylen, JsonbValue *value, void *arg)
{
	AdjustmentState *st = (AdjustmentState *) arg;
	TierAdjustment *adj = st->adj;
	int			seg;

	if ((keylen == 3 && memcmp(key, "add", 3) == 0) ||
		(keylen == 5 && memcmp(key, "label", 5) == 0))
		return;					/* read by the caller */
	if ((keylen == 4 && memcmp(key, "from", 4) == 0) ||
		(keylen == 2 && memcmp(key, "to", 2) == 0))
	{
		bool		is_from = (keylen == 4);
		int32		date;
		char	   *s;

		if (value->type != jbvString ||
			!parse_date((s = pnstrdup(value->val.string.val, value->val.string.len)), &date))
			invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
						  psprintf("%s.%.*s is not a date", st->where, keylen, key),
						  "from and to are dates written as \"YYYY-MM-DD\".",
						  "Write the date as a string such as \"2026-10-01\".");
		if (is_from)
		{
			adj->has_from = true;
			adj->from_date = date;
		}
		else
		{
			adj->has_to = true;
			adj->to_date = date;
		}
		return;
	}

	seg = tier_segment_lookup(key, keylen);
	if (seg < 0)
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
					  psprintf("unknown key \"%.*s\" in %s", keylen, key, st->where),
					  psprintf("An adjustment matches accounts on the segment columns %s, and takes add, from, to and label.",
							   segment_list()),
					  "Remove the key or correct its spelling.");
	else
	{
		TierCondition *cond = &adj->conds[adj->nconds++];

		cond->segment = (TierSegment) seg;
		if (value->type == jbvString)
		{
			cond->nvalues = 1;
			cond->values = palloc(sizeof(char *));
			cond->lengths = palloc(sizeof(int));
			cond->values[0] = pnstrdup(value->val.string.val, value->val.string.len);
			cond->lengths[0] = value->val.string.len;
		}
		else if (value_is_array(value))
		{
			JsonbIterator *it = JsonbIteratorInit(value->val.binary.data);
			JsonbValue	v;
			JsonbIteratorToken tok;
			int			size = JsonContainerSize(value->val.binary.data);

			cond->nvalues = 0;
			cond->values = palloc(sizeof(char *) * (size + 1));
			cond->lengths = palloc(sizeof(int) * (size + 1));
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				if (tok != WJB_ELEM)
					continue;
				if (v.type != jbvString)
					invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
								  psprintf("%s.%s holds a non-string", st->where, tier_segment_names[seg]),
								  psprintf("An element is %s.", json_type_name(&v)),
								  "List the matching values as strings, e.g. [\"East\", \"North\"].");
				cond->values[cond->nvalues] = pnstrdup(v.val.string.val, v.val.string.len);
				cond->lengths[cond->nvalues] = v.val.string.len;
				cond->nvalues++;
			}
			if (cond->nvalues == 0)
				invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
							  psprintf("%s.%s is an empty array", st->where, tier_segment_names[seg]),
							  "An empty list of values matches no account.",
							  "List at least one value, or remove the adjustment.");
		}
		else
			invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, id,
						  psprintf("%s.%s is not a string", st->where, tier_segment_names[seg]),
						  psprintf("The value is %s.", json_type_name(value)),
						  "Match a segment with a string, or an array of strings for several values.");
		appendStringInfo(&st->label, "%s%s=", st->label.len ? ", " : "", tier_segment_names[seg]);
		if (cond->nvalues == 1)
			appendStringInfoString(&st->label, cond->values[0]);
		else
		{
			int			i;

			for (i = 0; i < cond->nvalues; i++)
				appendStringInfo(&st->label, "%s%s", i ? "|" : "", cond->values[i]);
		}
	}
}

static void
parse_adjustments(TierModel *model, Jsonb *adjustments)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n = 0;

	if (!JB_ROOT_IS_ARRAY(adjustments) || JB_ROOT_IS_SCALAR(adjustments))
		invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, model->id,
					  "adjustments is not a JSON array",
					  "adjustments lists segment adjustments such as {\"region\": \"East\", \"add\": 5}.",
					  "Write adjustments as a JSON array; [] when there are none.");

	model->adjustments = palloc0(sizeof(TierAdjustment) *
								 (JsonContainerSize(&adjustments->root) + 1));
	it = JsonbIteratorInit(&adjustments->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		AdjustmentState st;
		TierAdjustment *adj;
		JsonbContainer *obj;
		double		add;
		bool		found;
		char	   *label;

		if (tok != WJB_ELEM)
			continue;
		st.where = psprintf("adjustments[%d]", n);
		if (!value_is_object(&v))
			invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, model->id,
						  psprintf("%s is not a JSON object", st.where),
						  psprintf("The element is %s.", json_type_name(&v)),
						  "Write an adjustment as {\"region\": \"East\", \"add\": 5}.");
		obj = v.val.binary.data;
		adj = &model->adjustments[n];
		adj->conds = palloc0(sizeof(TierCondition) * TIER_NSEGMENTS);
		st.model = model;
		st.adj = adj;
		initStringInfo(&st.label);
		for_each_member(model->id, obj, parse_adjustment_member, &st);

		if (adj->nconds == 0)
			invalid_model(ERRCODE_INVALID_PARAMETER_VALUE, model->id,
						  psprintf("%s matches no segment", st.where),
						  psprintf("An adjustment applies to the accounts of a segment: one or more of %s.",
								   segment_list()),
						  "Add a segment condition such as \"region\": \"East\".");
		add = number_field(model->id, obj, "add", st.where, true, &found);
		if (!(add >= -100.0 && add <= 100.0))
			invalid_model(ERRCODE_CHECK_VIOLATION, model->id,
						  psprintf("%s.add is outside [-100, 100]", st.where),
						  psprintf("add is %.15g points.", add),
						  "Use an adjustment from -100 to 100 points.");
		adj->add_milli = (int64) llround(add * 1000.0);
		if (adj->has_from && adj->has_to && adj->from_date >= adj->to_date)
			invalid_model(ERRCODE_CHECK_VIOLATION, model->id,
						  psprintf("%s.from is not before to", st.where),
						  "The adjustment applies from \"from\" (inclusive) to \"to\" (exclusive), so it would never apply.",
						  "Make \"from\" earlier than \"to\".");
		label = string_field(model->id, obj, "label", st.where);
		adj->label = label ? label : st.label.data;
		n++;
	}
	model->nadjustments = n;
	model->uses_segments = (n > 0);
}

/*
 * Parse and validate a model from its three JSON columns, allocating in cxt.
 * ereports on the first rule the model breaks.
 */
TierModel *
tier_model_parse(int32 id, Datum weights, Datum thresholds, Datum adjustments,
				 MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TierModel  *model = palloc0(sizeof(TierModel));

	model->id = id;
	parse_weights(model, DatumGetJsonbP(weights));
	parse_thresholds(model, DatumGetJsonbP(thresholds));
	parse_adjustments(model, DatumGetJsonbP(adjustments));
	MemoryContextSwitchTo(old);
	return model;
}

/* ---- the per-backend cache ---------------------------------------------- */

typedef struct ModelCacheEntry
{
	int32		id;				/* hash key */
	TransactionId xmin;			/* row version the model was parsed from */
	ItemPointerData tid;
	MemoryContext cxt;			/* holds model; NULL while invalid */
	TierModel  *model;
} ModelCacheEntry;

static HTAB *model_cache = NULL;
static SPIPlanPtr model_plan = NULL;
static SPIPlanPtr active_plan = NULL;


/*
 * The parsed, validated model with this id, from the cache when its row has
 * not changed. The caller must be connected to SPI. ereports when there is no
 * such model or it is invalid.
 */
TierModel *
tier_model_get(int32 id)
{
	Datum		arg = Int32GetDatum(id);
	ModelCacheEntry *entry;
	HeapTuple	tup;
	TupleDesc	desc;
	TransactionId xmin;
	ItemPointerData tid;
	bool		found;
	bool		isnull;
	int			rc;
	MemoryContext cxt;
	TierModel  *model;

	if (model_plan == NULL)
	{
		Oid			argtypes[1] = {INT4OID};

		model_plan = medcrm_keep_plan("SELECT t.xmin, t.ctid, t.weights, t.thresholds, t.adjustments"
							   "  FROM medcrm.tier_model AS t"
							   " WHERE t.id OPERATOR(pg_catalog.=) $1",
							   1, argtypes);
	}
	rc = SPI_execute_plan(model_plan, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("tier model %d does not exist", id),
				 errhint("See medcrm.tier_model for the models there are.")));

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	xmin = DatumGetTransactionId(SPI_getbinval(tup, desc, 1, &isnull));
	ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 2, &isnull)), &tid);

	if (model_cache == NULL)
	{
		HASHCTL		ctl;

		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(ModelCacheEntry);
		ctl.hcxt = CacheMemoryContext;
		model_cache = hash_create("medcrm tier models", 16, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(model_cache, &id, HASH_ENTER, &found);
	if (!found)
	{
		entry->cxt = NULL;
		entry->model = NULL;
	}
	if (entry->model != NULL && entry->xmin == xmin && ItemPointerEquals(&entry->tid, &tid))
		return entry->model;

	/*
	 * Parse into a context under the current one: if the model is invalid,
	 * the error frees it with the statement. Only a valid model moves into the
	 * cache.
	 */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "medcrm tier model",
								ALLOCSET_SMALL_SIZES);
	model = tier_model_parse(id,
							 SPI_getbinval(tup, desc, 3, &isnull),
							 SPI_getbinval(tup, desc, 4, &isnull),
							 SPI_getbinval(tup, desc, 5, &isnull),
							 cxt);
	MemoryContextSetParent(cxt, CacheMemoryContext);

	/*
	 * The previous version stays allocated: a statement that is running may
	 * still score with it (score_factors() keeps the pointer for its query).
	 * Models change a few times a year, so this costs a few kilobytes per
	 * edited model and backend.
	 */
	entry->cxt = cxt;
	entry->model = model;
	entry->xmin = xmin;
	ItemPointerCopy(&tid, &entry->tid);
	return model;
}

/* Id of the active model; ereports when none is active. Needs SPI. */
int32
tier_model_active_id(void)
{
	bool		isnull;
	int			rc;

	if (active_plan == NULL)
		active_plan = medcrm_keep_plan("SELECT t.id FROM medcrm.tier_model AS t WHERE t.active",
								0, NULL);
	rc = SPI_execute_plan(active_plan, NULL, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no tier model is active"),
				 errdetail("Scoring without a model id uses the active model."),
				 errhint("Activate one with medcrm.activate_model(id), or pass a model id.")));
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}
