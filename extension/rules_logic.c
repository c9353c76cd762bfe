/*
 * rules_logic.c — the pure part of medcrm's rule engine.
 *
 * A rule (a row of medcrm.rule) names an event, a condition (a jsonb object
 * whose keys are attributes of the event: stage, tier, kind, region, ...), a
 * title template with {placeholders}, a due offset, an assignee and a
 * priority. This file knows, per event, which condition keys and which
 * placeholders exist, parses a condition and a template into small C
 * structures once per statement, matches them against the values of one
 * event, renders titles, and does the SLA and routing arithmetic of work
 * orders. rule_condition_parse() and rule_template_parse() are also what the
 * validation trigger on medcrm.rule runs, so a rule that fires can never fail
 * on its own syntax. No SPI here: rules.c and sla.c supply the values.
 */
#include "postgres.h"

#include <math.h>

#include "common/int.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "rules_logic.h"

/* Enumerations of the data model, for validating condition values. */
static const char *const tiers[] = {"A", "B", "C", "D", NULL};
static const char *const account_kinds[] = {"hospital", "clinic", "group", "distributor", "agent", NULL};
static const char *const grades[] = {"3A", "3B", "3C", "2A", "2B", "2C", "1", NULL};
static const char *const stages[] = {"lead", "qualified", "demo", "trial", "tender", "negotiation", "won", "lost", NULL};
static const char *const contract_kinds[] = {"sale", "service", "distribution", "maintenance", NULL};
static const char *const wo_kinds[] = {"fault", "preventive", "install", "training", "recall", NULL};
static const char *const service_levels[] = {"platinum", "gold", "silver", "standard", NULL};
static const char *const recall_classes[] = {"I", "II", "III", NULL};
static const char *const cert_kinds[] = {"product_registration", "distributor_license", "distributor_authorization", NULL};
static const char *const categories[] = {"imaging", "cardio", "surgical", "ivd", "consumable", "other", NULL};
static const char *const breaches[] = {"response", "resolve", NULL};
static const char *const directions[] = {"up", "down", "first", NULL};
static const char *const severities[] = {"error", "warning", NULL};

#define K_TEXT(k, allowed) {k, COND_TEXT, allowed, 0, 0}
#define K_END {NULL, COND_TEXT, NULL, 0, 0}
#define K_ACCOUNT K_TEXT("tier", tiers), K_TEXT("region", NULL), K_TEXT("account_kind", account_kinds)

static const CondKeySpec opportunity_keys[] = {
	K_TEXT("stage", stages), K_TEXT("previous_stage", stages), K_ACCOUNT,
	K_TEXT("hospital_grade", grades), K_END
};
static const CondKeySpec renewal_keys[] = {
	K_ACCOUNT, K_TEXT("contract_kind", contract_kinds),
	{"within_days", COND_WITHIN_DAYS, NULL, 0, 0}, K_END
};
static const CondKeySpec expired_keys[] = {
	K_ACCOUNT, K_TEXT("contract_kind", contract_kinds),
	{"days_overdue", COND_DAYS_OVERDUE, NULL, 0, 0}, K_END
};
static const CondKeySpec work_order_keys[] = {
	K_TEXT("kind", wo_kinds), {"priority", COND_INT, NULL, 1, 4}, K_ACCOUNT,
	K_TEXT("service_level", service_levels), K_TEXT("breached", breaches), K_END
};
static const CondKeySpec recall_keys[] = {
	K_TEXT("class", recall_classes), K_ACCOUNT, K_TEXT("product_category", categories), K_END
};
static const CondKeySpec certificate_keys[] = {
	K_TEXT("certificate_kind", cert_kinds), K_TEXT("region", NULL),
	{"within_days", COND_WITHIN_DAYS, NULL, 0, 0}, K_END
};
static const CondKeySpec warranty_keys[] = {
	K_ACCOUNT, K_TEXT("service_level", service_levels), K_TEXT("product_category", categories),
	{"within_days", COND_WITHIN_DAYS, NULL, 0, 0}, K_END
};
static const CondKeySpec tier_change_keys[] = {
	K_TEXT("new_tier", tiers), K_TEXT("old_tier", tiers), K_TEXT("direction", directions),
	K_TEXT("region", NULL), K_TEXT("account_kind", account_kinds), K_END
};
static const CondKeySpec sample_loan_keys[] = {
	K_ACCOUNT, K_TEXT("product_category", categories),
	{"days_overdue", COND_DAYS_OVERDUE, NULL, 0, 0}, K_END
};
static const CondKeySpec data_quality_keys[] = {
	K_TEXT("finding_code", NULL), K_TEXT("severity", severities), K_TEXT("table_name", NULL), K_END
};

const char *const rule_common_placeholders[RULE_COMMON_PLACEHOLDERS] = {
	"due_date", "rule_name", "account_name", "tier", "region"
};

static const char *const opportunity_ph[] = {"stage", "previous_stage", "opportunity_id", "product_name", "amount", "expected_close", "owner", NULL};
static const char *const contract_ph[] = {"contract_no", "contract_kind", "ends_on", "days_left", "days_overdue", "value", "owner", NULL};
static const char *const work_order_ph[] = {"work_order_id", "kind", "priority", "team_name", "response_due", "resolve_due", "serial_no", "service_level", "breached", NULL};
static const char *const recall_ph[] = {"recall_id", "class", "product_name", "model_code", "serial_no", "batch_no", "reason", NULL};
static const char *const certificate_ph[] = {"certificate_no", "certificate_kind", "valid_to", "days_left", "product_name", NULL};
static const char *const warranty_ph[] = {"serial_no", "product_name", "warranty_ends", "days_left", NULL};
static const char *const tier_change_ph[] = {"old_tier", "new_tier", "direction", "score", "reason", NULL};
static const char *const sample_loan_ph[] = {"serial_no", "product_name", "lent_on", "due_back_on", "days_overdue", NULL};
static const char *const data_quality_ph[] = {"finding_code", "severity", "table_name", "row_id", "detail", "fix_hint", NULL};

const RuleEventSpec rule_event_specs[RULE_EVENT_COUNT] = {
	/* name, keys, placeholders, default role, required, time key, time, write, team */
	{"opportunity_stage", opportunity_keys, opportunity_ph, "medcrm_sales", NULL, NULL, false, true, false},
	{"contract_renewal", renewal_keys, contract_ph, "medcrm_sales", "within_days", NULL, true, true, false},
	{"contract_expired", expired_keys, contract_ph, "medcrm_sales", NULL, NULL, true, true, false},
	{"work_order", work_order_keys, work_order_ph, "medcrm_service", NULL, "breached", false, true, true},
	{"recall", recall_keys, recall_ph, "medcrm_quality", NULL, NULL, false, true, false},
	{"certificate_expiry", certificate_keys, certificate_ph, "medcrm_quality", "within_days", NULL, true, false, false},
	{"warranty_expiry", warranty_keys, warranty_ph, "medcrm_sales", "within_days", NULL, true, false, false},
	{"tier_change", tier_change_keys, tier_change_ph, "medcrm_sales", NULL, NULL, false, true, false},
	{"sample_loan", sample_loan_keys, sample_loan_ph, "medcrm_sales", NULL, "days_overdue", false, true, false},
	{"data_quality", data_quality_keys, data_quality_ph, "medcrm_admin", NULL, NULL, true, false, false},
};

int
rule_event_lookup(const char *name)
{
	int			i;

	for (i = 0; i < RULE_EVENT_COUNT; i++)
		if (strcmp(rule_event_specs[i].name, name) == 0)
			return i;
	return -1;
}

const CondKeySpec *
rule_cond_key_lookup(const RuleEventSpec *spec, const char *key)
{
	const CondKeySpec *k;

	for (k = spec->keys; k->key != NULL; k++)
		if (strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

int
rule_placeholder_count(const RuleEventSpec *spec)
{
	int			n = RULE_COMMON_PLACEHOLDERS;
	const char *const *p;

	for (p = spec->placeholders; *p != NULL; p++)
		n++;
	return n;
}

const char *
rule_placeholder_name(const RuleEventSpec *spec, int index)
{
	if (index < RULE_COMMON_PLACEHOLDERS)
		return rule_common_placeholders[index];
	return spec->placeholders[index - RULE_COMMON_PLACEHOLDERS];
}

/* Index of placeholder name[0..len) for the event, or -1. */
int
rule_placeholder_lookup(const RuleEventSpec *spec, const char *name, int len)
{
	int			n = rule_placeholder_count(spec);
	int			i;

	for (i = 0; i < n; i++)
	{
		const char *p = rule_placeholder_name(spec, i);

		if ((int) strlen(p) == len && strncmp(p, name, len) == 0)
			return i;
	}
	return -1;
}

char *
rule_placeholder_list(const RuleEventSpec *spec)
{
	StringInfoData buf;
	int			n = rule_placeholder_count(spec);
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s{%s}", i > 0 ? ", " : "", rule_placeholder_name(spec, i));
	return buf.data;
}

char *
rule_cond_key_list(const RuleEventSpec *spec)
{
	StringInfoData buf;
	const CondKeySpec *k;

	initStringInfo(&buf);
	for (k = spec->keys; k->key != NULL; k++)
		appendStringInfo(&buf, "%s%s", k == spec->keys ? "" : ", ", k->key);
	return buf.data;
}

static char *
allowed_list(const char *const *allowed)
{
	StringInfoData buf;
	const char *const *a;

	initStringInfo(&buf);
	for (a = allowed; *a != NULL; a++)
		appendStringInfo(&buf, "%s\"%s\"", a == allowed ? "" : ", ", *a);
	return buf.data;
}

static void
malformed(const RuleEventSpec *spec, const char *key, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("malformed condition key \"%s\" in a rule of event %s", key, spec->name),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
}

/* One scalar of a condition key into the clause; false if its type is wrong. */
static bool
add_scalar(CondClause *c, const char *key, const RuleEventSpec *spec, JsonbValue *v)
{
	const CondKeySpec *k = c->spec;

	if (k->kind == COND_TEXT)
	{
		char	   *s;

		if (v->type == jbvNull)
		{
			c->match_null = true;
			return true;
		}
		if (v->type != jbvString)
			return false;
		s = pnstrdup(v->val.string.val, v->val.string.len);
		if (k->allowed != NULL)
		{
			const char *const *a;
			bool		found = false;

			for (a = k->allowed; *a != NULL && !found; a++)
				found = (strcmp(*a, s) == 0);
			if (!found)
				malformed(spec, key,
						  psprintf("\"%s\" is not a value of %s.", s, key),
						  psprintf("Use one of %s, or null.", allowed_list(k->allowed)));
		}
		c->texts[c->nvalues++] = s;
		return true;
	}
	else
	{
		int32		i;
		double		d;

		if (v->type != jbvNumeric)
			return false;
		d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											   NumericGetDatum(v->val.numeric)));
		if (isnan(d) || d != floor(d) || d < -1e9 || d > 1e9)
			return false;
		i = (int32) d;
		if (k->kind == COND_INT)
		{
			if (i < k->min || i > k->max)
				malformed(spec, key,
						  psprintf("%d is outside the range of %s.", i, key),
						  psprintf("Use integers from %d to %d.", k->min, k->max));
			c->ints[c->nvalues++] = i;
		}
		else
		{
			if (i < 0 || i > 3650)
				malformed(spec, key,
						  psprintf("%d days is outside the range of %s.", i, key),
						  "Use a whole number of days from 0 to 3650.");
			c->threshold = i;
			c->nvalues = 1;
		}
		return true;
	}
}

/*
 * Parse and validate a rule's condition for its event. Raises 22023 with a
 * detail and a hint on an unknown key or a value of the wrong type or range.
 */
void
rule_condition_parse(const RuleEventSpec *spec, Jsonb *condition, RuleCondition *out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			cap;

	if (!JB_ROOT_IS_OBJECT(condition) || JB_ROOT_IS_SCALAR(condition))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("rule condition must be a JSON object"),
				 errdetail("The condition of a rule of event %s is not an object.", spec->name),
				 errhint("Write conditions as {\"key\": value, ...}, or {} to match every event.")));

	cap = JB_ROOT_COUNT(condition);
	out->nclauses = 0;
	out->clauses = palloc0(sizeof(CondClause) * Max(cap, 1));

	it = JsonbIteratorInit(&condition->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		const CondKeySpec *k;
		CondClause *c;
		const char *want;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		k = rule_cond_key_lookup(spec, key);
		if (k == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown condition key \"%s\" for event %s", key, spec->name),
					 errdetail("Rules of event %s know the condition keys %s.",
							   spec->name, rule_cond_key_list(spec)),
					 errhint("Remove the key or use one of the keys listed.")));
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);

		c = &out->clauses[out->nclauses++];
		c->spec = k;
		want = (k->kind == COND_TEXT) ? "a string, null, or an array of them" :
			(k->kind == COND_INT) ? "an integer or an array of integers" :
			"a whole number of days";

		if (v.type == jbvBinary)
		{
			JsonbIterator *ait;
			JsonbValue	e;
			JsonbIteratorToken atok;
			int			n = 0;

			if (!JsonContainerIsArray(v.val.binary.data) || k->kind == COND_WITHIN_DAYS ||
				k->kind == COND_DAYS_OVERDUE)
				malformed(spec, key, psprintf("The value of %s must be %s.", key, want),
						  "Write for example {\"tier\": [\"A\", \"B\"]} or {\"within_days\": 90}.");
			n = JsonContainerSize(v.val.binary.data);
			if (n == 0)
				malformed(spec, key, psprintf("The array of %s is empty, so the rule could never match.", key),
						  "List at least one value, or remove the key to match every value.");
			c->texts = palloc0(sizeof(char *) * n);
			c->ints = palloc0(sizeof(int32) * n);
			ait = JsonbIteratorInit(v.val.binary.data);
			while ((atok = JsonbIteratorNext(&ait, &e, true)) != WJB_DONE)
			{
				if (atok != WJB_ELEM)
					continue;
				if (!add_scalar(c, key, spec, &e))
					malformed(spec, key, psprintf("The value of %s must be %s.", key, want),
							  "Write for example {\"tier\": [\"A\", \"B\"]} or {\"priority\": [1, 2]}.");
			}
		}
		else
		{
			c->texts = palloc0(sizeof(char *));
			c->ints = palloc0(sizeof(int32));
			if (!add_scalar(c, key, spec, &v))
				malformed(spec, key, psprintf("The value of %s must be %s.", key, want),
						  "Write for example {\"stage\": \"demo\"} or {\"within_days\": 90}.");
		}
	}

	if (spec->required_key != NULL && !rule_condition_has_key(out, spec->required_key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rules of event %s need the condition key \"%s\"",
						spec->name, spec->required_key),
				 errdetail("The key says how many days before the date the task is raised."),
				 errhint("Add it, e.g. {\"%s\": 90}.", spec->required_key)));
}

bool
rule_condition_has_key(const RuleCondition *cond, const char *key)
{
	int			i;

	for (i = 0; i < cond->nclauses; i++)
		if (strcmp(cond->clauses[i].spec->key, key) == 0)
			return true;
	return false;
}

bool
rule_clause_match_text(const CondClause *clause, const char *value)
{
	int			i;

	if (value == NULL)
		return clause->match_null;
	for (i = 0; i < clause->nvalues; i++)
		if (strcmp(clause->texts[i], value) == 0)
			return true;
	return false;
}

bool
rule_clause_match_int(const CondClause *clause, bool isnull, int32 value)
{
	int			i;

	if (isnull)
		return false;
	switch (clause->spec->kind)
	{
		case COND_WITHIN_DAYS:
			return value <= clause->threshold;
		case COND_DAYS_OVERDUE:
			return value >= clause->threshold;
		case COND_INT:
			for (i = 0; i < clause->nvalues; i++)
				if (clause->ints[i] == value)
					return true;
			return false;
		default:
			return false;
	}
}

/*
 * Parse a title template: literal text and {placeholder}s; "{{" and "}}"
 * stand for literal braces. Raises 22023 on an unknown placeholder or an
 * unbalanced brace.
 */
void
rule_template_parse(const RuleEventSpec *spec, const char *text, RuleTemplate *out)
{
	StringInfoData lit;
	const char *p = text;
	int			cap = 8;

	out->nparts = 0;
	out->parts = palloc(sizeof(TemplatePart) * cap);
	initStringInfo(&lit);

#define ADD_PART(l, ph) \
	do { \
		if (out->nparts == cap) \
		{ \
			cap *= 2; \
			out->parts = repalloc(out->parts, sizeof(TemplatePart) * cap); \
		} \
		out->parts[out->nparts].literal = (l); \
		out->parts[out->nparts].placeholder = (ph); \
		out->nparts++; \
	} while (0)

	while (*p)
	{
		if (p[0] == '{' && p[1] == '{')
		{
			appendStringInfoChar(&lit, '{');
			p += 2;
		}
		else if (p[0] == '}' && p[1] == '}')
		{
			appendStringInfoChar(&lit, '}');
			p += 2;
		}
		else if (p[0] == '}')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unbalanced \"}\" in title template"),
					 errdetail("The template \"%s\" has a \"}\" that closes no placeholder.", text),
					 errhint("Write \"}}\" for a literal brace.")));
		else if (p[0] == '{')
		{
			const char *end = strchr(p + 1, '}');
			int			ph;

			if (end == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unterminated placeholder in title template"),
						 errdetail("The template \"%s\" opens a \"{\" that is never closed.", text),
						 errhint("Close the placeholder with \"}\", or write \"{{\" for a literal brace.")));
			ph = rule_placeholder_lookup(spec, p + 1, (int) (end - p - 1));
			if (ph < 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown placeholder {%.*s} in title template",
								(int) (end - p - 1), p + 1),
						 errdetail("Rules of event %s know the placeholders %s.",
								   spec->name, rule_placeholder_list(spec)),
						 errhint("Use one of the placeholders listed, or \"{{\" for a literal brace.")));
			if (lit.len > 0)
			{
				ADD_PART(pstrdup(lit.data), -1);
				resetStringInfo(&lit);
			}
			ADD_PART(NULL, ph);
			p = end + 1;
		}
		else
			appendStringInfoChar(&lit, *p++);
	}
	if (lit.len > 0)
		ADD_PART(pstrdup(lit.data), -1);
#undef ADD_PART
}

/* Render a parsed template; a NULL value renders as "-". */
void
rule_template_render(const RuleTemplate *tmpl, const char *const *values, StringInfo out)
{
	int			i;

	for (i = 0; i < tmpl->nparts; i++)
	{
		const TemplatePart *part = &tmpl->parts[i];

		if (part->literal != NULL)
			appendStringInfoString(out, part->literal);
		else if (values[part->placeholder] != NULL)
			appendStringInfoString(out, values[part->placeholder]);
		else
			appendStringInfoChar(out, '-');
	}
}

/*
 * The assignee of a rule: "owner", "team" (work orders only) or a role name;
 * the caller checks that the role exists.
 */
AssigneeMode
rule_assignee_parse(const RuleEventSpec *spec, const char *assignee)
{
	if (strcmp(assignee, "owner") == 0)
		return ASSIGNEE_OWNER;
	if (strcmp(assignee, "team") == 0)
	{
		if (!spec->team_allowed)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("assignee \"team\" is only valid for rules of event work_order"),
					 errdetail("Rules of event %s have no routed service team.", spec->name),
					 errhint("Use \"owner\" or the name of a role.")));
		return ASSIGNEE_TEAM;
	}
	return ASSIGNEE_ROLE;
}

/* Is the rule evaluated by run_time_rules() (rather than only by a trigger)? */
bool
rule_is_time_rule(const RuleEventSpec *spec, const RuleCondition *cond)
{
	if (spec->time_driven)
		return true;
	return spec->time_key != NULL && rule_condition_has_key(cond, spec->time_key);
}

/* dedupe_key of a task: rule, source row and occurrence. */
char *
rule_dedupe_key(int32 rule_id, const char *source_table, int64 source_id,
				const char *occurrence)
{
	return psprintf("r%d:%s:" INT64_FORMAT ":%s", rule_id, source_table, source_id,
					occurrence ? occurrence : "");
}

/*
 * An SLA deadline: "hours" elapsed hours after "from" (calendar hours, not
 * business hours; crossing midnight, a month end or a DST change is plain
 * microsecond arithmetic on the absolute time).
 */
TimestampTz
sla_deadline(TimestampTz from, double hours)
{
	double		usecs = rint(hours * (double) USECS_PER_HOUR);
	TimestampTz result;

	if (TIMESTAMP_NOT_FINITE(from))
		return from;
	if (isnan(usecs) || usecs > (double) PG_INT64_MAX / 2 || usecs < 0 ||
		pg_add_s64_overflow(from, (int64) usecs, &result) || !IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("SLA deadline out of range"),
				 errdetail("%g hours after the reported time is not a valid timestamp.", hours),
				 errhint("Check work_order.reported_at and the hours of medcrm.sla_policy.")));
	return result;
}

/*
 * Service-team routing: the team with the lowest id that takes the kind and
 * covers the region; else the national team (region NULL) with the lowest id
 * that takes the kind; else -1 (unrouted).
 */
int
route_team(const RouteTeam *teams, int nteams, const char *region, const char *kind)
{
	int			pass;

	for (pass = 0; pass < 2; pass++)
	{
		int			best = -1;
		int			i;

		for (i = 0; i < nteams; i++)
		{
			const RouteTeam *t = &teams[i];
			bool		takes = false;
			int			j;

			if (pass == 0 && (t->region == NULL || region == NULL || strcmp(t->region, region) != 0))
				continue;
			if (pass == 1 && t->region != NULL)
				continue;
			for (j = 0; j < t->nkinds && !takes; j++)
				takes = (strcmp(t->kinds[j], kind) == 0);
			if (takes && (best < 0 || t->id < teams[best].id))
				best = i;
		}
		if (best >= 0)
			return best;
	}
	return -1;
}
