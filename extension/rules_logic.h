/*
 * rules_logic.h — the pure part of medcrm's rule engine: which events exist,
 * which condition keys and title placeholders each event knows, how a
 * condition (jsonb) and a title template are parsed, validated and applied,
 * SLA deadline arithmetic and service-team routing.
 *
 * Nothing here runs SQL: rules.c and sla.c feed these functions with values
 * they read through SPI or from tuples, so every decision can be tested on
 * its own.
 */
#ifndef MEDCRM_RULES_LOGIC_H
#define MEDCRM_RULES_LOGIC_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* The events of medcrm.rule.event, in the order of rule_event_specs[]. */
typedef enum RuleEvent
{
	RULE_EVENT_OPPORTUNITY_STAGE,
	RULE_EVENT_CONTRACT_RENEWAL,
	RULE_EVENT_CONTRACT_EXPIRED,
	RULE_EVENT_WORK_ORDER,
	RULE_EVENT_RECALL,
	RULE_EVENT_CERTIFICATE_EXPIRY,
	RULE_EVENT_WARRANTY_EXPIRY,
	RULE_EVENT_TIER_CHANGE,
	RULE_EVENT_SAMPLE_LOAN,
	RULE_EVENT_DATA_QUALITY,
	RULE_EVENT_COUNT
} RuleEvent;

/* How a condition key compares with the event's value of the same name. */
typedef enum CondKind
{
	COND_TEXT,					/* string, null, or array of them: membership */
	COND_INT,					/* integer or array of integers: membership */
	COND_WITHIN_DAYS,			/* integer N >= 0: days_left <= N */
	COND_DAYS_OVERDUE			/* integer N >= 0: days_overdue >= N */
} CondKind;

typedef struct CondKeySpec
{
	const char *key;			/* condition key = column of the event's rows */
	CondKind	kind;
	const char *const *allowed; /* NULL-terminated list, or NULL for any */
	int			min;			/* COND_INT: smallest value allowed */
	int			max;			/* COND_INT: largest value allowed */
} CondKeySpec;

typedef struct RuleEventSpec
{
	const char *name;
	const CondKeySpec *keys;	/* terminated by a NULL key */
	const char *const *placeholders;	/* NULL-terminated, event-specific */
	const char *default_role;	/* assignee when the owner is unknown */
	const char *required_key;	/* condition key every rule must have, or NULL */
	const char *time_key;		/* a key that makes a rule time-driven, or NULL */
	bool		time_driven;	/* evaluated by run_time_rules() */
	bool		write_driven;	/* evaluated by the table's trigger */
	bool		team_allowed;	/* assignee 'team' makes sense */
} RuleEventSpec;

typedef struct CondClause
{
	const CondKeySpec *spec;
	int			nvalues;
	char	  **texts;			/* COND_TEXT values */
	int32	   *ints;			/* COND_INT values */
	bool		match_null;		/* COND_TEXT: null among the values */
	int32		threshold;		/* COND_WITHIN_DAYS, COND_DAYS_OVERDUE */
} CondClause;

typedef struct RuleCondition
{
	int			nclauses;
	CondClause *clauses;
} RuleCondition;

typedef struct TemplatePart
{
	const char *literal;		/* literal text, or NULL for a placeholder */
	int			placeholder;	/* index into the event's placeholder list */
} TemplatePart;

typedef struct RuleTemplate
{
	int			nparts;
	TemplatePart *parts;
} RuleTemplate;

/* Who gets a task. */
typedef enum AssigneeMode
{
	ASSIGNEE_OWNER,				/* the row's owner, else the event's group */
	ASSIGNEE_TEAM,				/* the routed service team (medcrm_service) */
	ASSIGNEE_ROLE				/* a named role */
} AssigneeMode;

/* Placeholders every event knows, before the event's own ones. */
#define RULE_COMMON_PLACEHOLDERS 5
extern const char *const rule_common_placeholders[RULE_COMMON_PLACEHOLDERS];
#define RULE_PH_DUE_DATE 0
#define RULE_PH_RULE_NAME 1
/* from here on, placeholders are columns of the event's source query */
#define RULE_PH_FIRST_COLUMN 2

extern const RuleEventSpec rule_event_specs[RULE_EVENT_COUNT];

extern int	rule_event_lookup(const char *name);
extern const CondKeySpec *rule_cond_key_lookup(const RuleEventSpec *spec, const char *key);
extern int	rule_placeholder_count(const RuleEventSpec *spec);
extern const char *rule_placeholder_name(const RuleEventSpec *spec, int index);
extern int	rule_placeholder_lookup(const RuleEventSpec *spec, const char *name, int len);
extern char *rule_placeholder_list(const RuleEventSpec *spec);
extern char *rule_cond_key_list(const RuleEventSpec *spec);

extern void rule_condition_parse(const RuleEventSpec *spec, Jsonb *condition,
								 RuleCondition *out);
extern bool rule_condition_has_key(const RuleCondition *cond, const char *key);
extern bool rule_clause_match_text(const CondClause *clause, const char *value);
extern bool rule_clause_match_int(const CondClause *clause, bool isnull, int32 value);

extern void rule_template_parse(const RuleEventSpec *spec, const char *text,
								RuleTemplate *out);
extern void rule_template_render(const RuleTemplate *tmpl, const char *const *values,
								 StringInfo out);

extern AssigneeMode rule_assignee_parse(const RuleEventSpec *spec, const char *assignee);
extern bool rule_is_time_rule(const RuleEventSpec *spec, const RuleCondition *cond);

extern char *rule_dedupe_key(int32 rule_id, const char *source_table, int64 source_id,
							 const char *occurrence);
extern TimestampTz sla_deadline(TimestampTz from, double hours);

/* A service team as routing sees it. */
typedef struct RouteTeam
{
	int64		id;
	char	   *region;			/* NULL: national team */
	char	  **kinds;
	int			nkinds;
} RouteTeam;

extern int	route_team(const RouteTeam *teams, int nteams, const char *region,
					   const char *kind);

#endif							/* MEDCRM_RULES_LOGIC_H */
