/*
 * kpi_engine.c — the KPI engine: every KPI of DOMAIN.md for up to 31
 * consecutive periods, by tier, by region (or by account kind) and overall,
 * in one pass over each table it reads.
 *
 *   medcrm.kpi_engine(bounds, bounds_ts, w12, w12_ts, w30_ts, now)
 *
 * is called by medcrm.kpi_series() (sql/src/50_kpi.sql), which validates the
 * bounds and passes them as dates and as timestamptz (midnight in the
 * session's TimeZone), together with the trailing-window starts; every
 * definition is the one docs/bi.md gives, row for row the same numbers as
 * the earlier all-SQL engine (test/scripts/kpi_differential.sh compares the
 * two on generated data).
 *
 * Why C: in SQL every fact table had to be hash-joined to the million
 * accounts to learn an account's tier and region, and three KPIs aggregated
 * per account; the engine took 25 to 90 sequential scans' worth of time.
 * Here medcrm.account is read once into a dense array indexed by id (ids
 * are identity values; a sorted array with binary search if they are very
 * sparse) holding the account's cell — its (effective tier, region), both
 * interned — and its flags. Then every fact table is scanned exactly once
 * (table_beginscan with the active snapshot), each row is mapped to its
 * periods by binary search over the bounds and added to per (KPI, period,
 * cell) numerators and denominators; per-account and per-device coverage
 * masks use kpi_cover.c, numeric sums are exact (kpi_exact.c). At the end
 * cells roll up into the overall, per-tier and per-region groups. Medians
 * (percentile_cont(0.5) on float8) and the recall processing time are not
 * additive and are computed per group from the rows.
 *
 * By account kind: medcrm.kpi_engine_by_kind() is the same run with the
 * account's kind in the place of its region in the cell, returning only the
 * by-kind groups. The by-region run (kpi_summary, v_kpi_monthly) keeps its
 * cells, its cost and its rows; asking for kinds costs one more run.
 *
 * Two parallel workers share the work: one scans opportunities, sales
 * orders and invoices (the sales worker below), one runs the data-quality
 * query (kpi_dq.c: data_error_rate reads medcrm.v_data_quality, so the
 * findings keep one definition). Without workers the engine does it all.
 *
 * Permissions: the scans read the tables directly, as the current user,
 * which inside the SECURITY DEFINER kpi_series() is its owner (the
 * extension owner), as the SQL engine did. SELECT privilege is checked; a
 * table whose row-level security would apply to that user is refused
 * rather than read unfiltered.
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "portability/instr_time.h"
#include "port/pg_bitutils.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/varlena.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "kpi.h"
#include "medcrm.h"

PG_FUNCTION_INFO_V1(medcrm_kpi_engine);
PG_FUNCTION_INFO_V1(medcrm_kpi_engine_by_kind);


/* ---- the KPI keys, in report order (medcrm.kpi_keys()) --------------------- */

typedef enum KpiKey
{
	K_TOUCH, K_FR_MEDIAN, K_FR_MEAN, K_RES_MEDIAN, K_RES_MEAN, K_SLA,
	K_CONVERSION, K_CYCLE, K_RENEWAL, K_REPEAT, K_CLV, K_COLLECTION,
	K_A_SHARE, K_A_MARGIN, K_SERVICE, K_RECALL_CLOSURE, K_RECALL_HOURS,
	K_TASK, K_DATA_ERROR, K_A_VISIT,
	KPI_N
} KpiKey;

static const char *const kpi_names[KPI_N] = {
	"touch_rate", "first_response_hours_median", "first_response_hours_mean",
	"resolution_hours_median", "resolution_hours_mean", "sla_compliance",
	"conversion_rate", "sales_cycle_days", "renewal_rate", "repeat_purchase_rate",
	"clv_mean", "collection_rate", "a_tier_share", "a_tier_margin_share",
	"service_coverage", "recall_closure_rate", "recall_processing_hours_mean",
	"task_timeliness", "data_error_rate", "a_visit_coverage"
};

/* account flags */
#define AF_ACTIVE	0x01		/* lifecycle_stage active or at_risk */
#define AF_A		0x02		/* effective tier A */
#define AF_TIERED	0x04		/* effective tier not NULL */
#define AF_ERROR	0x08		/* at least one open data-quality finding */

/* a count n is n * 10^KPI_EXACT_SCALE units of a KpiExact */
#define USECS_PER_SEC_NUM	1000000

/* ---- id -> slot lookup ------------------------------------------------------ */

/*
 * Rows collected from a scan are numbered 0..n-1 ("slots"); IdIndex finds
 * the slot of an id: a dense array over [min_id, max_id] when the ids are
 * compact enough (identity values), else binary search in sorted ids.
 */
typedef struct IdIndex
{
	int64		min_id;
	int64		range;			/* dense: max_id - min_id + 1, else 0 */
	int32	   *dense;			/* slot or -1 */
	int64	   *sorted_ids;		/* sparse: ids in order */
	int32	   *sorted_slots;
	int32		n;
} IdIndex;

typedef struct IdSlot
{
	int64		id;
	int32		slot;
} IdSlot;

static int
idslot_cmp(const void *a, const void *b)
{
	int64		x = ((const IdSlot *) a)->id;
	int64		y = ((const IdSlot *) b)->id;

	return (x > y) - (x < y);
}

static void
idindex_build(IdIndex *ix, const int64 *ids, int32 n)
{
	int64		lo = PG_INT64_MAX;
	int64		hi = PG_INT64_MIN;
	int32		i;

	memset(ix, 0, sizeof(*ix));
	ix->n = n;
	for (i = 0; i < n; i++)
	{
		lo = Min(lo, ids[i]);
		hi = Max(hi, ids[i]);
	}
	if (n == 0)
		return;
	/* dense when the array is at most 4 times the rows (plus some slack) */
	if ((uint64) hi - (uint64) lo < (uint64) n * 4 + 65536)
	{
		ix->min_id = lo;
		ix->range = hi - lo + 1;
		ix->dense = MemoryContextAllocHuge(CurrentMemoryContext, ix->range * sizeof(int32));
		memset(ix->dense, 0xFF, ix->range * sizeof(int32));
		for (i = 0; i < n; i++)
			ix->dense[ids[i] - lo] = i;
	}
	else
	{
		IdSlot	   *pairs = MemoryContextAllocHuge(CurrentMemoryContext, n * sizeof(IdSlot));

		for (i = 0; i < n; i++)
		{
			pairs[i].id = ids[i];
			pairs[i].slot = i;
		}
		qsort(pairs, n, sizeof(IdSlot), idslot_cmp);
		ix->sorted_ids = MemoryContextAllocHuge(CurrentMemoryContext, n * sizeof(int64));
		ix->sorted_slots = MemoryContextAllocHuge(CurrentMemoryContext, n * sizeof(int32));
		for (i = 0; i < n; i++)
		{
			ix->sorted_ids[i] = pairs[i].id;
			ix->sorted_slots[i] = pairs[i].slot;
		}
		pfree(pairs);
	}
}

/* slot of id, -1 when absent */
static inline int32
idindex_find(const IdIndex *ix, int64 id)
{
	if (ix->dense)
	{
		uint64		off = (uint64) id - (uint64) ix->min_id;

		return off < (uint64) ix->range ? ix->dense[off] : -1;
	}
	else
	{
		int32		lo = 0,
					hi = ix->n;

		while (lo < hi)
		{
			int32		mid = lo + (hi - lo) / 2;

			if (ix->sorted_ids[mid] < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		return (lo < ix->n && ix->sorted_ids[lo] == id) ? ix->sorted_slots[lo] : -1;
	}
}

/* ---- growable arrays --------------------------------------------------------- */

typedef struct Vec
{
	char	   *data;
	Size		n;
	Size		cap;
	Size		elem;
} Vec;

static void
vec_init(Vec *v, Size elem)
{
	v->elem = elem;
	v->n = 0;
	v->cap = 1024;
	v->data = MemoryContextAllocHuge(CurrentMemoryContext, v->cap * elem);
}

static inline void *
vec_push(Vec *v)
{
	if (v->n == v->cap)
	{
		v->cap *= 2;
		v->data = repalloc_huge(v->data, v->cap * v->elem);
	}
	return v->data + (v->n++) * v->elem;
}

#define VEC_AT(v, type, i) (((type *) (v)->data)[i])

/* ---- interned strings (tiers, regions) ------------------------------------- */

typedef struct Interner
{
	int			n;
	int			cap;			/* of the hash table, a power of 2 */
	int		   *table;			/* id + 1, 0 = empty */
	char	  **str;
	int		   *len;
	int			str_cap;
} Interner;

static void
interner_init(Interner *in)
{
	in->n = 0;
	in->cap = 64;
	in->table = palloc0(in->cap * sizeof(int));
	in->str_cap = 32;
	in->str = palloc(in->str_cap * sizeof(char *));
	in->len = palloc(in->str_cap * sizeof(int));
}

static int
interner_id(Interner *in, const char *s, int len)
{
	uint32		h = hash_bytes((const unsigned char *) s, len);
	int			i = h & (in->cap - 1);

	for (;;)
	{
		int			e = in->table[i];

		if (e == 0)
			break;
		if (in->len[e - 1] == len && memcmp(in->str[e - 1], s, len) == 0)
			return e - 1;
		i = (i + 1) & (in->cap - 1);
	}
	if (in->n >= PG_INT16_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct tiers or regions for the kpi engine"),
				 errdetail("The accounts have more than %d distinct values.", PG_INT16_MAX),
				 errhint("Regions are meant to be a short list; see medcrm.sales_territory.")));
	if (in->n == in->str_cap)
	{
		in->str_cap *= 2;
		in->str = repalloc(in->str, in->str_cap * sizeof(char *));
		in->len = repalloc(in->len, in->str_cap * sizeof(int));
	}
	in->str[in->n] = pnstrdup(s, len);
	in->len[in->n] = len;
	in->table[i] = ++in->n;
	if (in->n * 2 > in->cap)
	{
		int			newcap = in->cap * 2;
		int		   *t = palloc0(newcap * sizeof(int));
		int			k;

		for (k = 0; k < in->n; k++)
		{
			int			j = hash_bytes((const unsigned char *) in->str[k], in->len[k]) & (newcap - 1);

			while (t[j] != 0)
				j = (j + 1) & (newcap - 1);
			t[j] = k + 1;
		}
		pfree(in->table);
		in->table = t;
		in->cap = newcap;
	}
	return in->n - 1;
}

/* ---- reading rows -------------------------------------------------------------- */

typedef struct ColSpec
{
	const char *name;
	Oid			type;
} ColSpec;

typedef struct KpiScan
{
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	AttrNumber	maxatt;
	AttrNumber	att[16];		/* 0-based column positions of the ColSpecs */
	uint32		rows;
} KpiScan;

/* Open medcrm.<relname> for a scan of the given columns, found by name. */
static void
scan_open(KpiScan *s, const char *relname, const ColSpec *cols, int ncols)
{
	Oid			relid = medcrm_relid(relname);
	TupleDesc	desc;
	AclResult	acl;
	int			i;

	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, relname);
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the kpi engine cannot read medcrm.%s under row-level security", relname),
				 errdetail("Role \"%s\" is subject to the row-level security policies of the table; the engine reads whole tables.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("Let the owner of the extension own medcrm.kpi_series(), as CREATE EXTENSION does.")));
	s->rel = table_open(relid, AccessShareLock);
	desc = RelationGetDescr(s->rel);
	s->maxatt = 0;
	Assert(ncols <= lengthof(s->att));
	for (i = 0; i < ncols; i++)
	{
		AttrNumber	a = get_attnum(relid, cols[i].name);

		if (a == InvalidAttrNumber || a < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column medcrm.%s.%s is missing", relname, cols[i].name),
					 errdetail("The kpi engine expects the column with type %s.", format_type_be(cols[i].type)),
					 errhint("Reinstall the extension medcrm.")));
		if (TupleDescAttr(desc, a - 1)->atttypid != cols[i].type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column medcrm.%s.%s is of type %s, not %s", relname, cols[i].name,
							format_type_be(TupleDescAttr(desc, a - 1)->atttypid),
							format_type_be(cols[i].type)),
					 errhint("Reinstall the extension medcrm.")));
		s->att[i] = a - 1;
		s->maxatt = Max(s->maxatt, a);
	}
	s->slot = table_slot_create(s->rel, NULL);
	s->scan = table_beginscan(s->rel, GetActiveSnapshot(), 0, NULL);
	s->rows = 0;
}

static inline bool
scan_next(KpiScan *s)
{
	if ((++s->rows & 4095) == 0)
		CHECK_FOR_INTERRUPTS();
	if (!table_scan_getnextslot(s->scan, ForwardScanDirection, s->slot))
		return false;
	slot_getsomeattrs(s->slot, s->maxatt);
	return true;
}

static void
scan_close(KpiScan *s)
{
	table_endscan(s->scan);
	ExecDropSingleTupleTableSlot(s->slot);
	table_close(s->rel, AccessShareLock);
}

#define COL_NULL(s, i)	((s)->slot->tts_isnull[(s)->att[i]])
#define COL(s, i)		((s)->slot->tts_values[(s)->att[i]])

/* text datum equals the literal (byte equality = texteq, deterministic collation) */
static inline bool
text_is(Datum d, const char *lit)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);
	Size		len = strlen(lit);

	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		v = pg_detoast_datum_packed(v);
	return VARSIZE_ANY_EXHDR(v) == len && memcmp(VARDATA_ANY(v), lit, len) == 0;
}

/* ---- periods ----------------------------------------------------------------- */

/*
 * Number of a[0..n-1] (increasing) that are <= x: width_bucket(x, a). Serves
 * timestamptz bounds and date bounds alike: the engine keeps its date bounds
 * (bd, w12d) widened to int64 day numbers for that.
 */
static inline int
count_le(const int64 *a, int n, int64 x)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (a[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* b - a in microseconds, as timestamptz subtraction does (errors included) */
static int64
ts_diff_usec(TimestampTz b, TimestampTz a)
{
	int64		r;

	if (TIMESTAMP_NOT_FINITE(a) || TIMESTAMP_NOT_FINITE(b))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("cannot subtract infinite timestamps")));
	if (pg_sub_s64_overflow(b, a, &r))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range")));
	return r;
}

/* ---- the run ------------------------------------------------------------------- */

typedef struct MedRow
{
	int32		p;				/* period */
	int32		cell;
	double		v;
} MedRow;

typedef struct RecallAction
{
	int64		key;			/* recall slot * ngroups + group */
	int32		rslot;
	bool		done;
	bool		has_done_at;
	TimestampTz done_at;
} RecallAction;

typedef struct InRangeContract
{
	int64		id;
	int32		p;
	int32		cell;
} InRangeContract;

typedef struct Run
{
	int			np;				/* periods */
	int64		bd[KPI_COVER_PERIODS + 1];	/* bounds (DateADT day numbers, widened) */
	TimestampTz bt[KPI_COVER_PERIODS + 1];	/* bounds as timestamptz */
	int64		w12d[KPI_COVER_PERIODS];	/* ends - 12 months (day numbers, widened) */
	TimestampTz w12t[KPI_COVER_PERIODS];
	TimestampTz w30t[KPI_COVER_PERIODS];	/* ends - 30 days */
	TimestampTz now;

	/*
	 * The second dimension of a cell: the account's region, or its kind when
	 * by_kind (medcrm.kpi_engine_by_kind()). Everything below calls it
	 * "region"; only the account scan and the result rows tell them apart,
	 * so the by-kind groups get every KPI, median and recall processing time
	 * by the same code as the by-region groups.
	 */
	bool		by_kind;
	Interner	tiers;
	Interner	regions;		/* regions, or kinds when by_kind */
	int			ntier;
	int			nreg;
	int			ncell;			/* ntier * nreg; cell = tier * nreg + region */
	int			ngroup;			/* 1 + ntier + nreg: overall, tiers, regions */
	int			none_cell;		/* ('(none)', '(none)'): rows without an account */
	int			tier_a;			/* tier id of 'A', -1 if no account has it */

	/* accounts (not merged) by slot */
	IdIndex		aidx;
	int32		nacct;
	int32	   *acell;
	uint8	   *aflags;
	uint32	   *touch;			/* periods with a visit */
	uint64	   *repeat;			/* kpi_cover state of orders, trailing 12 months */
	uint32	   *avisit;			/* periods with a channel-visit visit, trailing 30 days */

	/* per cell: account counts and active devices */
	int64	   *n_all,
			   *n_active,
			   *n_a,
			   *n_tiered,
			   *n_error,
			   *n_devices;
	bool		none_seen[KPI_COVER_PERIODS];	/* account-less rows in a period */

	/* active devices of accounts: cell and preventive-service mask */
	IdIndex		didx;
	int32	   *dcell;
	uint32	   *dmask;

	/* (kpi, period, cell) numerators and denominators */
	KpiExact   *acc;
	KpiExact   *clv_lo;			/* (first period, cell): margins of active accounts */

	Vec			fr_med;			/* MedRow */
	Vec			res_med;
	Vec			contracts;		/* InRangeContract */
	Vec			renewed_from;	/* int64 */

	IdIndex		ridx;			/* recalls opened in the range */
	int32	   *rperiod;
	TimestampTz *ropened;
	Vec			actions;		/* RecallAction */

	/* per (period, group): recall processing time and medians */
	KpiExact   *proc_num;
	int64	   *proc_den;
	int64	   *med_n[2];
	/* in the sales worker: set when a value needs numeric arithmetic */
	bool	   *worker_fallback;
	double	   *med_v[2];
} Run;

/*
 * The three groups a cell's counts belong to: 0 overall, 1 + its tier, and
 * 1 + ntier + its region (its kind in the by-kind run). A cell is
 * tier * nreg + region.
 */
static inline void
cell_groups(const Run *r, int c, int64 g[3])
{
	g[0] = 0;
	g[1] = 1 + c / r->nreg;
	g[2] = 1 + r->ntier + c % r->nreg;
}

#define ACC_NUM(r, k, p, c) (&(r)->acc[((((Size) (k) * (r)->np + (p)) * (r)->ncell + (c)) * 2)])
#define ACC_DEN(r, k, p, c) (ACC_NUM(r, k, p, c) + 1)

static inline void
acc_count(Run *r, KpiKey k, int p, int c, int64 num, int64 den)
{
	/* adding 0 with dscale 0 changes nothing */
	if (num)
		kpi_exact_add_units(ACC_NUM(r, k, p, c), (int128) num * USECS_PER_SEC_NUM, 0);
	if (den)
		kpi_exact_add_units(ACC_DEN(r, k, p, c), (int128) den * USECS_PER_SEC_NUM, 0);
}

/* ---- scans ------------------------------------------------------------------- */

static void
scan_accounts(Run *r)
{
	static const ColSpec region_cols[] = {
		{"id", INT8OID}, {"tier", TEXTOID}, {"tier_override", TEXTOID},
		{"region", TEXTOID}, {"lifecycle_stage", TEXTOID}, {"merged_into", INT8OID}
	};
	/* by kind: the same columns, kind (NOT NULL) in the place of region */
	static const ColSpec kind_cols[] = {
		{"id", INT8OID}, {"tier", TEXTOID}, {"tier_override", TEXTOID},
		{"kind", TEXTOID}, {"lifecycle_stage", TEXTOID}, {"merged_into", INT8OID}
	};
	const ColSpec *cols = r->by_kind ? kind_cols : region_cols;
	KpiScan		s;
	Vec			ids,
				tr,
				fl;
	int			none_t,
				none_r;
	int32		i;

	interner_init(&r->tiers);
	interner_init(&r->regions);
	none_t = interner_id(&r->tiers, "(none)", 6);
	none_r = interner_id(&r->regions, "(none)", 6);
	Assert(none_t == 0 && none_r == 0);
	vec_init(&ids, sizeof(int64));
	vec_init(&tr, sizeof(int32));
	vec_init(&fl, sizeof(uint8));

	StaticAssertStmt(lengthof(region_cols) == lengthof(kind_cols), "same account columns");
	scan_open(&s, "account", cols, lengthof(region_cols));
	while (scan_next(&s))
	{
		Datum		tier;
		bool		has_tier;
		int			t,
					rg;
		uint8		flags = 0;
		struct varlena *v;

		if (!COL_NULL(&s, 5))
			continue;			/* merged: never counts */
		has_tier = !COL_NULL(&s, 2) || !COL_NULL(&s, 1);
		tier = !COL_NULL(&s, 2) ? COL(&s, 2) : COL(&s, 1);
		if (has_tier)
		{
			v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(tier));
			t = interner_id(&r->tiers, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
			flags |= AF_TIERED;
			if (text_is(tier, "A"))
				flags |= AF_A;
		}
		else
			t = none_t;
		if (!COL_NULL(&s, 3))
		{
			v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(COL(&s, 3)));
			rg = interner_id(&r->regions, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
		}
		else
			rg = none_r;
		if (text_is(COL(&s, 4), "active") || text_is(COL(&s, 4), "at_risk"))
			flags |= AF_ACTIVE;
		*(int64 *) vec_push(&ids) = DatumGetInt64(COL(&s, 0));
		*(int32 *) vec_push(&tr) = (t << 16) | rg;
		*(uint8 *) vec_push(&fl) = flags;
	}
	scan_close(&s);

	r->ntier = r->tiers.n;
	r->nreg = r->regions.n;
	r->ncell = r->ntier * r->nreg;
	r->ngroup = 1 + r->ntier + r->nreg;
	r->none_cell = none_t * r->nreg + none_r;
	r->tier_a = -1;
	for (i = 0; i < r->ntier; i++)
		if (r->tiers.len[i] == 1 && r->tiers.str[i][0] == 'A')
			r->tier_a = i;

	r->nacct = (int32) ids.n;
	idindex_build(&r->aidx, (int64 *) ids.data, r->nacct);
	r->acell = (int32 *) tr.data;
	r->aflags = (uint8 *) fl.data;
	r->n_all = palloc0(r->ncell * sizeof(int64));
	r->n_active = palloc0(r->ncell * sizeof(int64));
	r->n_a = palloc0(r->ncell * sizeof(int64));
	r->n_tiered = palloc0(r->ncell * sizeof(int64));
	r->n_error = palloc0(r->ncell * sizeof(int64));
	r->n_devices = palloc0(r->ncell * sizeof(int64));
	for (i = 0; i < r->nacct; i++)
	{
		int32		tr_i = r->acell[i];
		int			c = (tr_i >> 16) * r->nreg + (tr_i & 0xFFFF);

		r->acell[i] = c;
		r->n_all[c]++;
		if (r->aflags[i] & AF_ACTIVE)
			r->n_active[c]++;
		if (r->aflags[i] & AF_A)
			r->n_a[c]++;
		if (r->aflags[i] & AF_TIERED)
			r->n_tiered[c]++;
	}
	r->touch = MemoryContextAllocExtended(CurrentMemoryContext, Max(r->nacct, 1) * sizeof(uint32),
										  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	r->avisit = MemoryContextAllocExtended(CurrentMemoryContext, Max(r->nacct, 1) * sizeof(uint32),
										   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	r->repeat = MemoryContextAllocExtended(CurrentMemoryContext, Max(r->nacct, 1) * sizeof(uint64),
										   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	r->acc = MemoryContextAllocExtended(CurrentMemoryContext,
										(Size) KPI_N * r->np * r->ncell * 2 * sizeof(KpiExact),
										MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	r->clv_lo = MemoryContextAllocExtended(CurrentMemoryContext,
										   (Size) r->np * r->ncell * sizeof(KpiExact),
										   MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/* data_error_rate: mark the accounts with an open finding (kpi_dq.c) */
static void
apply_data_quality(Run *r, KpiDqReader *dq)
{
	Size		n;
	const int64 *ids = kpi_dq_finish(dq, &n);
	Size		i;

	for (i = 0; i < n; i++)
	{
		int32		a = idindex_find(&r->aidx, ids[i]);

		if (a >= 0 && !(r->aflags[a] & AF_ERROR))
		{
			r->aflags[a] |= AF_ERROR;
			r->n_error[r->acell[a]]++;
		}
	}
}

/* active devices of counted accounts: the service coverage denominator */
static void
scan_devices(Run *r)
{
	static const ColSpec cols[] = {{"id", INT8OID}, {"account_id", INT8OID}, {"status", TEXTOID}};
	KpiScan		s;
	Vec			ids,
				cells;

	vec_init(&ids, sizeof(int64));
	vec_init(&cells, sizeof(int32));
	scan_open(&s, "installed_device", cols, lengthof(cols));
	while (scan_next(&s))
	{
		int32		a;

		if (!text_is(COL(&s, 2), "active"))
			continue;
		a = idindex_find(&r->aidx, DatumGetInt64(COL(&s, 1)));
		if (a < 0)
			continue;
		*(int64 *) vec_push(&ids) = DatumGetInt64(COL(&s, 0));
		*(int32 *) vec_push(&cells) = r->acell[a];
		r->n_devices[r->acell[a]]++;
	}
	scan_close(&s);
	idindex_build(&r->didx, (int64 *) ids.data, (int32) ids.n);
	r->dcell = (int32 *) cells.data;
	r->dmask = MemoryContextAllocExtended(CurrentMemoryContext, Max(ids.n, 1) * sizeof(uint32),
										  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

static inline void
med_push(Vec *v, int p, int cell, double x)
{
	MedRow	   *m = vec_push(v);

	m->p = p;
	m->cell = cell;
	m->v = x;
}

/*
 * Work orders reported or resolved in the range (response and resolution
 * times, SLA compliance), and preventive work orders resolved in the
 * trailing 12 months of a period (service coverage, by device).
 */
static void
scan_work_orders(Run *r)
{
	static const ColSpec cols[] = {
		{"account_id", INT8OID}, {"device_id", INT8OID}, {"kind", TEXTOID},
		{"reported_at", TIMESTAMPTZOID}, {"response_due_at", TIMESTAMPTZOID},
		{"resolve_due_at", TIMESTAMPTZOID}, {"first_response_at", TIMESTAMPTZOID},
		{"resolved_at", TIMESTAMPTZOID}
	};
	KpiScan		s;
	int			np = r->np;
	TimestampTz from = r->bt[0],
				to = r->bt[np];

	vec_init(&r->fr_med, sizeof(MedRow));
	vec_init(&r->res_med, sizeof(MedRow));
	scan_open(&s, "work_order", cols, lengthof(cols));
	while (scan_next(&s))
	{
		TimestampTz rep = DatumGetTimestampTz(COL(&s, 3));
		bool		has_res = !COL_NULL(&s, 7);
		bool		has_fr = !COL_NULL(&s, 6);
		bool		has_rdue = !COL_NULL(&s, 4);
		bool		has_sdue = !COL_NULL(&s, 5);
		TimestampTz res = has_res ? DatumGetTimestampTz(COL(&s, 7)) : 0;
		TimestampTz fr = has_fr ? DatumGetTimestampTz(COL(&s, 6)) : 0;
		TimestampTz rdue = has_rdue ? DatumGetTimestampTz(COL(&s, 4)) : 0;
		TimestampTz sdue = has_sdue ? DatumGetTimestampTz(COL(&s, 5)) : 0;
		bool		rep_in = rep >= from && rep < to;
		bool		res_in = has_res && res >= from && res < to;

		/* service coverage: by device, whatever the work order's account */
		if (has_res && !COL_NULL(&s, 1) && res >= r->w12t[0] && res < to &&
			text_is(COL(&s, 2), "preventive"))
		{
			int32		d = idindex_find(&r->didx, DatumGetInt64(COL(&s, 1)));

			if (d >= 0)
				r->dmask[d] |= (uint32) kpi_cover_range_mask(count_le(r->bt + 1, np, res),
															 count_le(r->w12t, np, res) - 1);
		}

		if (rep_in || res_in)
		{
			int32		a = idindex_find(&r->aidx, DatumGetInt64(COL(&s, 0)));
			int			c;

			if (a < 0)
				continue;
			c = r->acell[a];

			/*
			 * Each duration only where it counts, as the KPI's definition
			 * subtracts: an order reported in the period whose resolved_at is
			 * outside it (even infinity) has no resolution time here.
			 */
			if (rep_in)
			{
				int			p = count_le(r->bt, np, rep) - 1;
				bool		met,
							missed;

				if (has_fr)
				{
					int64		response_us = ts_diff_usec(fr, rep);

					kpi_exact_add_units(ACC_NUM(r, K_FR_MEAN, p, c), response_us, KPI_EXACT_SCALE);
					acc_count(r, K_FR_MEAN, p, c, 0, 1);
					med_push(&r->fr_med, p, c, (double) response_us / 1000000.0);
				}
				met = has_rdue && has_sdue && has_fr && has_res && fr <= rdue && res <= sdue;
				missed = (has_fr && has_rdue && fr > rdue) ||
					(has_res && has_sdue && res > sdue) ||
					(!has_fr && has_rdue && rdue < r->now) ||
					(!has_res && has_sdue && sdue < r->now);
				acc_count(r, K_SLA, p, c, met ? 1 : 0, (met || missed) ? 1 : 0);
			}
			if (res_in)
			{
				int			p = count_le(r->bt, np, res) - 1;
				int64		resolution_us = ts_diff_usec(res, rep);

				kpi_exact_add_units(ACC_NUM(r, K_RES_MEAN, p, c), resolution_us, KPI_EXACT_SCALE);
				acc_count(r, K_RES_MEAN, p, c, 0, 1);
				med_push(&r->res_med, p, c, (double) resolution_us / 1000000.0);
			}
		}
	}
	scan_close(&s);
}

/* Visits: touch rate (any channel, in the period) and A-account visit coverage. */
static void
scan_visits(Run *r)
{
	static const ColSpec cols[] = {
		{"account_id", INT8OID}, {"channel", TEXTOID}, {"started_at", TIMESTAMPTZOID}
	};
	KpiScan		s;
	int			np = r->np;
	TimestampTz to = r->bt[np];
	TimestampTz first = Min(r->bt[0], r->w30t[0]);

	scan_open(&s, "visit", cols, lengthof(cols));
	while (scan_next(&s))
	{
		TimestampTz t = DatumGetTimestampTz(COL(&s, 2));
		int32		a;

		if (t >= to || t < first)
			continue;
		a = idindex_find(&r->aidx, DatumGetInt64(COL(&s, 0)));
		if (a < 0)
			continue;
		if (t >= r->bt[0] && (r->aflags[a] & AF_ACTIVE))
			r->touch[a] |= (uint32) 1 << (count_le(r->bt, np, t) - 1);
		if (t >= r->w30t[0] && (r->aflags[a] & AF_A) && text_is(COL(&s, 1), "visit"))
			r->avisit[a] |= (uint32) kpi_cover_range_mask(count_le(r->bt + 1, np, t),
														  count_le(r->w30t, np, t) - 1);
	}
	scan_close(&s);
}

/* Opportunities won or lost in the range: conversion rate, sales cycle. */
static void
scan_opportunities(Run *r)
{
	static const ColSpec cols[] = {
		{"account_id", INT8OID}, {"stage", TEXTOID}, {"opened_on", DATEOID}, {"closed_on", DATEOID}
	};
	KpiScan		s;
	int			np = r->np;

	scan_open(&s, "opportunity", cols, lengthof(cols));
	while (scan_next(&s))
	{
		DateADT		closed;
		bool		won;
		int32		a;
		int			p,
					c;

		if (COL_NULL(&s, 3))
			continue;
		closed = DatumGetDateADT(COL(&s, 3));
		if (closed < r->bd[0] || closed >= r->bd[np])
			continue;
		won = text_is(COL(&s, 1), "won");
		if (!won && !text_is(COL(&s, 1), "lost"))
			continue;
		a = idindex_find(&r->aidx, DatumGetInt64(COL(&s, 0)));
		if (a < 0)
			continue;
		p = count_le(r->bd, np, closed) - 1;
		c = r->acell[a];
		acc_count(r, K_CONVERSION, p, c, won ? 1 : 0, 1);
		if (won)
		{
			DateADT		opened = DatumGetDateADT(COL(&s, 2));

			if (DATE_NOT_FINITE(closed) || DATE_NOT_FINITE(opened))
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("cannot subtract infinite dates")));
			acc_count(r, K_CYCLE, p, c, (int64) closed - (int64) opened, 1);
		}
	}
	scan_close(&s);
}

/* Contracts ending in the range, and which contracts have a successor. */
static void
scan_contracts(Run *r)
{
	static const ColSpec cols[] = {
		{"id", INT8OID}, {"account_id", INT8OID}, {"ends_on", DATEOID}, {"renewed_from", INT8OID}
	};
	KpiScan		s;
	int			np = r->np;

	vec_init(&r->contracts, sizeof(InRangeContract));
	vec_init(&r->renewed_from, sizeof(int64));
	scan_open(&s, "contract", cols, lengthof(cols));
	while (scan_next(&s))
	{
		DateADT		ends = DatumGetDateADT(COL(&s, 2));

		if (!COL_NULL(&s, 3))
			*(int64 *) vec_push(&r->renewed_from) = DatumGetInt64(COL(&s, 3));
		if (ends >= r->bd[0] && ends < r->bd[np])
		{
			int32		a = idindex_find(&r->aidx, DatumGetInt64(COL(&s, 1)));
			InRangeContract *k;

			if (a < 0)
				continue;
			k = vec_push(&r->contracts);
			k->id = DatumGetInt64(COL(&s, 0));
			k->p = count_le(r->bd, np, ends) - 1;
			k->cell = r->acell[a];
		}
	}
	scan_close(&s);
}

static void
finish_contracts(Run *r)
{
	IdIndex		renewed;
	Size		i;

	idindex_build(&renewed, (int64 *) r->renewed_from.data, (int32) r->renewed_from.n);
	for (i = 0; i < r->contracts.n; i++)
	{
		InRangeContract *k = &VEC_AT(&r->contracts, InRangeContract, i);

		acc_count(r, K_RENEWAL, k->p, k->cell, idindex_find(&renewed, k->id) >= 0 ? 1 : 0, 1);
	}
}

/*
 * Add a numeric value to an exact sum. In the sales worker, whose sums live
 * in shared memory, a value that only numeric arithmetic can add (NaN, more
 * than 6 decimals) stops the worker instead: false, and the leader redoes
 * its tables itself.
 */
static inline bool
add_numeric(Run *r, KpiExact *s, Datum v)
{
	int128		units;
	int32		dscale;

	if (kpi_exact_decode(v, &units, &dscale))
	{
		kpi_exact_add_units(s, units, dscale);
		return true;
	}
	if (r->worker_fallback)
	{
		*r->worker_fallback = true;
		return false;
	}
	kpi_exact_add_numeric(s, v);
	return true;
}

/*
 * Sales orders: repeat purchase (orders in the trailing 12 months, per
 * account), CLV (margin of all orders before a period's end, active
 * accounts) and the A-tier margin share (orders in the period).
 */
static void
scan_orders(Run *r)
{
	static const ColSpec cols[] = {
		{"account_id", INT8OID}, {"ordered_on", DATEOID}, {"gross_margin", NUMERICOID}
	};
	KpiScan		s;
	int			np = r->np;
	DateADT		to = (DateADT) r->bd[np];

	scan_open(&s, "sales_order", cols, lengthof(cols));
	while (scan_next(&s))
	{
		DateADT		d = DatumGetDateADT(COL(&s, 1));
		int32		a;
		int			lo,
					c;
		Datum		margin;

		if (d >= to)
			continue;
		a = idindex_find(&r->aidx, DatumGetInt64(COL(&s, 0)));
		if (a < 0)
			continue;
		c = r->acell[a];
		lo = count_le(r->bd + 1, np, d);	/* first period ending after d */
		if (d >= r->w12d[0])
			r->repeat[a] = kpi_cover_add(r->repeat[a], lo, count_le(r->w12d, np, d) - 1);
		margin = COL(&s, 2);
		if ((r->aflags[a] & AF_ACTIVE) &&
			!add_numeric(r, &r->clv_lo[lo * r->ncell + c], margin))
			break;
		if (d >= r->bd[0])
		{
			/* in the range: lo is the order's period */
			if (!add_numeric(r, ACC_DEN(r, K_A_MARGIN, lo, c), margin))
				break;
			if (c / r->nreg == r->tier_a &&
				!add_numeric(r, ACC_NUM(r, K_A_MARGIN, lo, c), margin))
				break;
		}
	}
	scan_close(&s);
}

/* Invoices due in the period: collection rate (paid on time, capped at the amount). */
static void
scan_invoices(Run *r)
{
	static const ColSpec cols[] = {
		{"account_id", INT8OID}, {"due_on", DATEOID}, {"amount", NUMERICOID},
		{"paid_on", DATEOID}, {"paid_amount", NUMERICOID}
	};
	KpiScan		s;
	int			np = r->np;

	scan_open(&s, "invoice", cols, lengthof(cols));
	while (scan_next(&s))
	{
		DateADT		due = DatumGetDateADT(COL(&s, 1));
		Datum		amount = COL(&s, 2);
		int32		a;
		int			p,
					c;

		if (due < r->bd[0] || due >= r->bd[np])
			continue;
		a = idindex_find(&r->aidx, DatumGetInt64(COL(&s, 0)));
		if (a < 0)
			continue;
		p = count_le(r->bd, np, due) - 1;
		c = r->acell[a];
		if (!add_numeric(r, ACC_DEN(r, K_COLLECTION, p, c), amount))
			break;
		if (!COL_NULL(&s, 3) && DatumGetDateADT(COL(&s, 3)) <= due)
		{
			Datum		paid = COL(&s, 4);
			int128		ua,
						up;
			int32		sa,
						sp;

			/* least(paid_amount, amount): the first unless the second is smaller */
			if (kpi_exact_decode(amount, &ua, &sa) && kpi_exact_decode(paid, &up, &sp))
			{
				if (ua < up)
					kpi_exact_add_units(ACC_NUM(r, K_COLLECTION, p, c), ua, sa);
				else
					kpi_exact_add_units(ACC_NUM(r, K_COLLECTION, p, c), up, sp);
			}
			else if (!add_numeric(r, ACC_NUM(r, K_COLLECTION, p, c),
								  DatumGetInt32(DirectFunctionCall2(numeric_cmp, amount, paid)) < 0
								  ? amount : paid))
				break;
		}
	}
	scan_close(&s);
}

/* ---- the sales worker ---------------------------------------------------------- */

/*
 * A parallel worker (access/parallel.h: same transaction, snapshot and
 * user) scans opportunities, sales orders and invoices, about half of the
 * bytes the engine reads, while the engine scans the other tables. It gets the accounts' lookup array, cells and
 * flags in dynamic shared memory and leaves its sums there (the cells of
 * conversion, sales cycle, A-margin share and collection, CLV by
 * first period, the per-account repeat-purchase masks); the engine merges
 * them. Without a worker, or when the worker met a value only numeric
 * arithmetic can sum, the engine scans these tables itself.
 */
#define SW_KEY_HEADER	UINT64CONST(0x6D6564636B707701)
#define SW_KEY_INDEX	UINT64CONST(0x6D6564636B707702)
#define SW_KEY_IDS		UINT64CONST(0x6D6564636B707703)
#define SW_KEY_CELL		UINT64CONST(0x6D6564636B707704)
#define SW_KEY_FLAGS	UINT64CONST(0x6D6564636B707705)
#define SW_KEY_REPEAT	UINT64CONST(0x6D6564636B707706)
#define SW_KEY_ACC		UINT64CONST(0x6D6564636B707707)
#define SW_KEY_CLV		UINT64CONST(0x6D6564636B707708)

typedef struct SalesWorkerHeader
{
	int			np;
	int			ncell;
	int			nreg;
	int			tier_a;
	int64		bd[KPI_COVER_PERIODS + 1];
	int64		w12d[KPI_COVER_PERIODS];
	IdIndex		aidx;			/* pointers invalid here: see the keys */
	int32		nacct;
	bool		fallback;
} SalesWorkerHeader;

PGDLLEXPORT void medcrm_kpi_sales_worker(dsm_segment *seg, shm_toc *toc);

static Size
acc_size(const Run *r)
{
	return (Size) KPI_N * r->np * r->ncell * 2 * sizeof(KpiExact);
}

static Size
index_size(const IdIndex *ix)
{
	return ix->dense ? (Size) ix->range * sizeof(int32) : Max(ix->n, 1) * sizeof(int32);
}

static Size
ids_size(const IdIndex *ix)
{
	return ix->dense ? sizeof(int64) : Max(ix->n, 1) * sizeof(int64);
}

/* Launch the sales worker; NULL when none could be had. */
static ParallelContext *
sales_worker_start(Run *r)
{
	ParallelContext *pcxt;
	SalesWorkerHeader *h;
	Size		sizes[8];
	uint64		keys[8] = {SW_KEY_HEADER, SW_KEY_INDEX, SW_KEY_IDS, SW_KEY_CELL,
	SW_KEY_FLAGS, SW_KEY_REPEAT, SW_KEY_ACC, SW_KEY_CLV};
	void	   *chunk[8];
	int			i;

	if (IsParallelWorker() || max_parallel_workers_per_gather <= 0)
		return NULL;
	sizes[0] = sizeof(SalesWorkerHeader);
	sizes[1] = index_size(&r->aidx);
	sizes[2] = ids_size(&r->aidx);
	sizes[3] = Max(r->nacct, 1) * sizeof(int32);
	sizes[4] = Max(r->nacct, 1) * sizeof(uint8);
	sizes[5] = Max(r->nacct, 1) * sizeof(uint64);
	sizes[6] = acc_size(r);
	sizes[7] = (Size) r->np * r->ncell * sizeof(KpiExact);

	EnterParallelMode();
	pcxt = CreateParallelContext("medcrm", "medcrm_kpi_sales_worker", 1);
	for (i = 0; i < 8; i++)
		shm_toc_estimate_chunk(&pcxt->estimator, sizes[i]);
	shm_toc_estimate_keys(&pcxt->estimator, 8);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return NULL;
	}
	for (i = 0; i < 8; i++)
	{
		chunk[i] = shm_toc_allocate(pcxt->toc, sizes[i]);
		shm_toc_insert(pcxt->toc, keys[i], chunk[i]);
	}
	h = chunk[0];
	memset(h, 0, sizeof(*h));
	h->np = r->np;
	h->ncell = r->ncell;
	h->nreg = r->nreg;
	h->tier_a = r->tier_a;
	memcpy(h->bd, r->bd, sizeof(h->bd));
	memcpy(h->w12d, r->w12d, sizeof(h->w12d));
	h->aidx = r->aidx;
	h->nacct = r->nacct;
	if (r->aidx.dense)
		memcpy(chunk[1], r->aidx.dense, sizes[1]);
	else if (r->aidx.n > 0)
	{
		memcpy(chunk[1], r->aidx.sorted_slots, r->aidx.n * sizeof(int32));
		memcpy(chunk[2], r->aidx.sorted_ids, r->aidx.n * sizeof(int64));
	}
	memcpy(chunk[3], r->acell, r->nacct * sizeof(int32));
	memcpy(chunk[4], r->aflags, r->nacct * sizeof(uint8));
	memset(chunk[5], 0, sizes[5]);
	memset(chunk[6], 0, sizes[6]);
	memset(chunk[7], 0, sizes[7]);
	LaunchParallelWorkers(pcxt);
	if (pcxt->nworkers_launched == 0)
	{
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return NULL;
	}
	return pcxt;
}

/* A Run over the shared arrays (worker side). */
static Run *
sales_worker_run(shm_toc *toc)
{
	SalesWorkerHeader *h = shm_toc_lookup(toc, SW_KEY_HEADER, false);
	Run		   *r = palloc0(sizeof(Run));

	r->np = h->np;
	r->ncell = h->ncell;
	r->nreg = h->nreg;
	r->tier_a = h->tier_a;
	memcpy(r->bd, h->bd, sizeof(r->bd));
	memcpy(r->w12d, h->w12d, sizeof(r->w12d));
	r->aidx = h->aidx;
	if (h->aidx.dense)
		r->aidx.dense = shm_toc_lookup(toc, SW_KEY_INDEX, false);
	else
	{
		r->aidx.sorted_slots = shm_toc_lookup(toc, SW_KEY_INDEX, false);
		r->aidx.sorted_ids = shm_toc_lookup(toc, SW_KEY_IDS, false);
	}
	r->nacct = h->nacct;
	r->acell = shm_toc_lookup(toc, SW_KEY_CELL, false);
	r->aflags = shm_toc_lookup(toc, SW_KEY_FLAGS, false);
	r->repeat = shm_toc_lookup(toc, SW_KEY_REPEAT, false);
	r->acc = shm_toc_lookup(toc, SW_KEY_ACC, false);
	r->clv_lo = shm_toc_lookup(toc, SW_KEY_CLV, false);
	r->worker_fallback = &h->fallback;
	return r;
}

/* The tables of the sales worker, in the worker or (without one) in the engine. */
static void
scan_sales(Run *r)
{
	scan_opportunities(r);
	scan_orders(r);
	if (!r->worker_fallback || !*r->worker_fallback)
		scan_invoices(r);
}

void
medcrm_kpi_sales_worker(dsm_segment *seg, shm_toc *toc)
{
	scan_sales(sales_worker_run(toc));
}

/* Wait for the sales worker and take its sums, or scan the two tables here. */
static void
sales_worker_finish(Run *r, ParallelContext *pcxt)
{
	if (pcxt)
	{
		Run		   *w;
		Size		i,
					n;
		bool		fallback;

		WaitForParallelWorkersToFinish(pcxt);
		w = sales_worker_run(pcxt->toc);
		fallback = *w->worker_fallback;
		if (!fallback)
		{
			memcpy(r->repeat, w->repeat, Max(r->nacct, 1) * sizeof(uint64));
			n = (Size) KPI_N * r->np * r->ncell * 2;
			for (i = 0; i < n; i++)
				if (w->acc[i].units != 0 || w->acc[i].dscale != 0)
					kpi_exact_merge(&r->acc[i], &w->acc[i]);
			n = (Size) r->np * r->ncell;
			for (i = 0; i < n; i++)
				kpi_exact_merge(&r->clv_lo[i], &w->clv_lo[i]);
		}
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		if (!fallback)
			return;
	}
	scan_sales(r);
}

/* Recalls opened in the range. */
static void
scan_recalls(Run *r)
{
	static const ColSpec cols[] = {{"id", INT8OID}, {"opened_at", TIMESTAMPTZOID}};
	KpiScan		s;
	Vec			ids,
				per,
				opened;
	int			np = r->np;

	vec_init(&ids, sizeof(int64));
	vec_init(&per, sizeof(int32));
	vec_init(&opened, sizeof(TimestampTz));
	scan_open(&s, "recall", cols, lengthof(cols));
	while (scan_next(&s))
	{
		TimestampTz t = DatumGetTimestampTz(COL(&s, 1));

		if (t < r->bt[0] || t >= r->bt[np])
			continue;
		*(int64 *) vec_push(&ids) = DatumGetInt64(COL(&s, 0));
		*(int32 *) vec_push(&per) = count_le(r->bt, np, t) - 1;
		*(TimestampTz *) vec_push(&opened) = t;
	}
	scan_close(&s);
	idindex_build(&r->ridx, (int64 *) ids.data, (int32) ids.n);
	r->rperiod = (int32 *) per.data;
	r->ropened = (TimestampTz *) opened.data;
}

/*
 * Tasks: timeliness (due in the period) and the recall actions of recalls
 * opened in the range. A task without an account counts under
 * ('(none)', '(none)'); one of a merged account does not count.
 */
static void
scan_tasks(Run *r)
{
	static const ColSpec cols[] = {
		{"account_id", INT8OID}, {"kind", TEXTOID}, {"due_at", TIMESTAMPTZOID},
		{"status", TEXTOID}, {"source_table", TEXTOID}, {"source_id", INT8OID},
		{"done_at", TIMESTAMPTZOID}
	};
	KpiScan		s;
	int			np = r->np;

	vec_init(&r->actions, sizeof(RecallAction));
	scan_open(&s, "task", cols, lengthof(cols));
	while (scan_next(&s))
	{
		bool		due_in = false;
		int32		rs = -1;
		int			c;
		bool		done;

		if (!COL_NULL(&s, 2))
		{
			TimestampTz due = DatumGetTimestampTz(COL(&s, 2));

			due_in = due >= r->bt[0] && due < r->bt[np];
		}
		if (r->ridx.n > 0 && !COL_NULL(&s, 5) && !COL_NULL(&s, 4) &&
			text_is(COL(&s, 1), "recall_action") && text_is(COL(&s, 4), "recall"))
			rs = idindex_find(&r->ridx, DatumGetInt64(COL(&s, 5)));
		if (!due_in && rs < 0)
			continue;
		if (COL_NULL(&s, 0))
			c = r->none_cell;
		else
		{
			int32		a = idindex_find(&r->aidx, DatumGetInt64(COL(&s, 0)));

			if (a < 0)
				continue;
			c = r->acell[a];
		}
		done = text_is(COL(&s, 3), "done");
		if (due_in)
		{
			TimestampTz due = DatumGetTimestampTz(COL(&s, 2));
			int			p = count_le(r->bt, np, due) - 1;
			bool		timely = done && !COL_NULL(&s, 6) && DatumGetTimestampTz(COL(&s, 6)) <= due;

			acc_count(r, K_TASK, p, c, timely ? 1 : 0, 1);
			if (c == r->none_cell)
				r->none_seen[p] = true;
		}
		if (rs >= 0)
		{
			int			p = r->rperiod[rs];
			int64		groups[3];
			int			g;

			acc_count(r, K_RECALL_CLOSURE, p, c, done ? 1 : 0, 1);
			if (c == r->none_cell)
				r->none_seen[p] = true;
			cell_groups(r, c, groups);
			for (g = 0; g < 3; g++)
			{
				RecallAction *ra = vec_push(&r->actions);

				ra->key = (int64) rs * r->ngroup + groups[g];
				ra->rslot = rs;
				ra->done = done;
				ra->has_done_at = !COL_NULL(&s, 6);
				ra->done_at = ra->has_done_at ? DatumGetTimestampTz(COL(&s, 6)) : 0;
			}
		}
	}
	scan_close(&s);
}

/* ---- after the scans ----------------------------------------------------------- */

static int
ra_cmp(const void *a, const void *b)
{
	int64		x = ((const RecallAction *) a)->key;
	int64		y = ((const RecallAction *) b)->key;

	return (x > y) - (x < y);
}

/*
 * Recall processing time: per recall and group, are all its actions done
 * and when was the last one done; the mean over completed recalls.
 */
static void
finish_recalls(Run *r)
{
	Size		n = r->actions.n;
	RecallAction *ra = (RecallAction *) r->actions.data;
	Size		i = 0;

	r->proc_num = palloc0((Size) r->np * r->ngroup * sizeof(KpiExact));
	r->proc_den = palloc0((Size) r->np * r->ngroup * sizeof(int64));
	qsort(ra, n, sizeof(RecallAction), ra_cmp);
	while (i < n)
	{
		Size		j = i;
		bool		all_done = true;
		bool		has_last = false;
		TimestampTz last = 0;

		for (; j < n && ra[j].key == ra[i].key; j++)
		{
			all_done &= ra[j].done;
			if (ra[j].has_done_at && (!has_last || ra[j].done_at > last))
			{
				last = ra[j].done_at;
				has_last = true;
			}
		}
		if (all_done && has_last)
		{
			int32		rs = ra[i].rslot;
			Size		pg = (Size) r->rperiod[rs] * r->ngroup + (ra[i].key % r->ngroup);

			kpi_exact_add_units(&r->proc_num[pg], ts_diff_usec(last, r->ropened[rs]), KPI_EXACT_SCALE);
			r->proc_den[pg]++;
		}
		i = j;
	}
}

/* Rearrange a[0..n-1] so that a[k] is the k-th smallest (0-based), smaller before, larger after. */
static void
select_kth(double *a, Size n, Size k)
{
	Size		lo = 0,
				hi = n - 1;

	while (lo < hi)
	{
		double		pivot = a[lo + (hi - lo) / 2];
		Size		i = lo,
					j = hi;

		/* Hoare partition around the middle element */
		while (i <= j)
		{
			while (a[i] < pivot)
				i++;
			while (a[j] > pivot)
				j--;
			if (i <= j)
			{
				double		t = a[i];

				a[i] = a[j];
				a[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return;				/* a[j+1 .. i-1] all equal the pivot */
	}
}

/*
 * percentile_cont(0.5) of each (period, group), as PostgreSQL computes it:
 * rownum = 1 + 0.5 * (n - 1); the value at floor(rownum), interpolated
 * towards the one at ceil(rownum) as lo + (rownum - floor) * (hi - lo).
 * The rows are bucketed by (period, group) and each bucket's middle found
 * by quickselect: linear, where sorting every group was not.
 */
static void
finish_medians(Run *r, Vec *rows, int which)
{
	MedRow	   *m = (MedRow *) rows->data;
	Size		n = rows->n;
	Size		nkeys = (Size) r->np * r->ngroup;
	Size	   *start = palloc0((nkeys + 1) * sizeof(Size));
	Size	   *fill = palloc(nkeys * sizeof(Size));
	double	   *vals = MemoryContextAllocHuge(CurrentMemoryContext, Max(3 * n, 1) * sizeof(double));
	Size		i,
				key;
	int			g;

	r->med_n[which] = palloc0(nkeys * sizeof(int64));
	r->med_v[which] = palloc0(nkeys * sizeof(double));
	/* every row counts in three groups: overall, its tier, its region */
	for (i = 0; i < n; i++)
	{
		Size		base = (Size) m[i].p * r->ngroup;
		int64		groups[3];

		cell_groups(r, m[i].cell, groups);
		for (g = 0; g < 3; g++)
			start[base + groups[g] + 1]++;
	}
	for (key = 0; key < nkeys; key++)
		start[key + 1] += start[key];
	memcpy(fill, start, nkeys * sizeof(Size));
	for (i = 0; i < n; i++)
	{
		Size		base = (Size) m[i].p * r->ngroup;
		int64		groups[3];

		cell_groups(r, m[i].cell, groups);
		for (g = 0; g < 3; g++)
			vals[fill[base + groups[g]]++] = m[i].v;
	}
	for (key = 0; key < nkeys; key++)
	{
		double	   *a = vals + start[key];
		Size		cnt = start[key + 1] - start[key];
		double		rownum,
					first_row,
					second_row,
					lo,
					hi;
		Size		j;

		if (cnt == 0)
			continue;
		rownum = 1 + (0.5 * (cnt - 1));
		first_row = floor(rownum);
		second_row = ceil(rownum);
		select_kth(a, cnt, (Size) first_row - 1);
		lo = a[(Size) first_row - 1];
		hi = lo;
		if (second_row != first_row)
		{
			/* the next value up: the smallest of those after the k-th */
			hi = a[(Size) first_row];
			for (j = (Size) first_row + 1; j < cnt; j++)
				if (a[j] < hi)
					hi = a[j];
		}
		r->med_n[which][key] = cnt;
		r->med_v[which][key] = (second_row == first_row) ? lo
			: lo + ((rownum - first_row) * (hi - lo));
	}
}

/* Per-account and per-device masks, CLV prefix sums, and the account counts. */
static void
finish_cells(Run *r)
{
	int			np = r->np;
	int32		i;
	int			p,
				c;

	/* entities covered per (period, cell): touch, A visit, repeat once/twice, service */
	Size		pc = (Size) np * r->ncell;
	int64	   *cnt = palloc0(5 * pc * sizeof(int64));

	for (i = 0; i < r->nacct; i++)
	{
		int			cell = r->acell[i];
		uint64		m;

		for (m = r->touch[i]; m; m &= m - 1)
			cnt[0 * pc + pg_rightmost_one_pos64(m) * r->ncell + cell]++;
		for (m = r->avisit[i]; m; m &= m - 1)
			cnt[1 * pc + pg_rightmost_one_pos64(m) * r->ncell + cell]++;
		for (m = r->repeat[i] & KPI_COVER_LOW; m; m &= m - 1)
			cnt[2 * pc + pg_rightmost_one_pos64(m) * r->ncell + cell]++;
		for (m = (r->repeat[i] >> 32) & KPI_COVER_LOW; m; m &= m - 1)
			cnt[3 * pc + pg_rightmost_one_pos64(m) * r->ncell + cell]++;
	}
	for (i = 0; i < r->didx.n; i++)
	{
		uint64		m;

		for (m = r->dmask[i]; m; m &= m - 1)
			cnt[4 * pc + pg_rightmost_one_pos64(m) * r->ncell + r->dcell[i]]++;
	}
	for (p = 0; p < np; p++)
		for (c = 0; c < r->ncell; c++)
		{
			Size		at = (Size) p * r->ncell + c;

			acc_count(r, K_TOUCH, p, c, cnt[0 * pc + at], 0);
			acc_count(r, K_A_VISIT, p, c, cnt[1 * pc + at], 0);
			acc_count(r, K_REPEAT, p, c, cnt[3 * pc + at], cnt[2 * pc + at]);
			acc_count(r, K_SERVICE, p, c, cnt[4 * pc + at], 0);
		}
	for (c = 0; c < r->ncell; c++)
	{
		KpiExact	clv = {0};

		for (p = 0; p < np; p++)
		{
			kpi_exact_merge(&clv, &r->clv_lo[p * r->ncell + c]);
			kpi_exact_merge(ACC_NUM(r, K_CLV, p, c), &clv);
			/* every cell of accounts, every period: the account counts */
			if (r->n_all[c] > 0)
			{
				acc_count(r, K_TOUCH, p, c, 0, r->n_active[c]);
				acc_count(r, K_CLV, p, c, 0, r->n_active[c]);
				acc_count(r, K_A_SHARE, p, c, r->n_a[c], r->n_tiered[c]);
				acc_count(r, K_DATA_ERROR, p, c, r->n_error[c], r->n_all[c]);
				acc_count(r, K_A_VISIT, p, c, 0, r->n_a[c]);
				acc_count(r, K_SERVICE, p, c, 0, r->n_devices[c]);
			}
		}
	}
}

/* ---- results ----------------------------------------------------------------- */

typedef struct NameRef
{
	const char *s;
	int			len;
	int			id;
} NameRef;

static int
nameref_cmp(const void *a, const void *b)
{
	const NameRef *x = a;
	const NameRef *y = b;

	return varstr_cmp(x->s, x->len, y->s, y->len, DEFAULT_COLLATION_OID);
}

/* ids of the interned strings in ORDER BY order */
static int *
sorted_ids(const Interner *in)
{
	NameRef    *refs = palloc(Max(in->n, 1) * sizeof(NameRef));
	int		   *ids = palloc(Max(in->n, 1) * sizeof(int));
	int			i;

	for (i = 0; i < in->n; i++)
	{
		refs[i].s = in->str[i];
		refs[i].len = in->len[i];
		refs[i].id = i;
	}
	qsort(refs, in->n, sizeof(NameRef), nameref_cmp);
	for (i = 0; i < in->n; i++)
		ids[i] = refs[i].id;
	return ids;
}

static bool
cell_exists(const Run *r, int p, int c)
{
	return r->n_all[c] > 0 || (c == r->none_cell && r->none_seen[p]);
}

static Datum
num_div(Datum a, Datum b)
{
	return DirectFunctionCall2(numeric_div, a, b);
}

static void
emit_results(Run *r, ReturnSetInfo *rsinfo)
{
	int		   *tord = sorted_ids(&r->tiers);
	int		   *rord = sorted_ids(&r->regions);
	Datum		d3600 = NumericGetDatum(int64_to_numeric(3600));
	Datum		kname[KPI_N];
	int			norder = 1 + r->nreg + r->ntier;
	int		   *order = palloc(norder * sizeof(int));	/* group ids in row order */
	bool	   *exists = palloc(r->ngroup * sizeof(bool));
	KpiExact   *gnum = palloc(r->ngroup * sizeof(KpiExact));	/* per group: sums over its cells */
	KpiExact   *gden = palloc(r->ngroup * sizeof(KpiExact));
	int			p,
				k,
				i;

	for (k = 0; k < KPI_N; k++)
		kname[k] = CStringGetTextDatum(kpi_names[k]);
	if (r->by_kind)
	{
		/* ORDER BY kind: the kind groups only */
		norder = r->nreg;
		for (i = 0; i < r->nreg; i++)
			order[i] = 1 + r->ntier + rord[i];
	}
	else
	{
		/* ORDER BY tier NULLS FIRST, region NULLS FIRST: overall, regions, tiers */
		order[0] = 0;
		for (i = 0; i < r->nreg; i++)
			order[1 + i] = 1 + r->ntier + rord[i];
		for (i = 0; i < r->ntier; i++)
			order[1 + r->nreg + i] = 1 + tord[i];
	}

	for (p = 0; p < r->np; p++)
	{
		int			c;

		memset(exists, 0, r->ngroup * sizeof(bool));
		exists[0] = true;
		for (c = 0; c < r->ncell; c++)
			if (cell_exists(r, p, c))
			{
				int64		groups[3];

				cell_groups(r, c, groups);
				exists[groups[1]] = exists[groups[2]] = true;
			}
		for (k = 0; k < KPI_N; k++)
		{
			/* one pass over the cells adds each into its three groups */
			if (k != K_FR_MEDIAN && k != K_RES_MEDIAN && k != K_RECALL_HOURS)
			{
				memset(gnum, 0, r->ngroup * sizeof(KpiExact));
				memset(gden, 0, r->ngroup * sizeof(KpiExact));
				for (c = 0; c < r->ncell; c++)
				{
					int64		groups[3];
					int			j;

					cell_groups(r, c, groups);
					for (j = 0; j < 3; j++)
					{
						kpi_exact_merge(&gnum[groups[j]], ACC_NUM(r, k, p, c));
						kpi_exact_merge(&gden[groups[j]], ACC_DEN(r, k, p, c));
					}
				}
			}
			for (i = 0; i < norder; i++)
			{
				int			g = order[i];
				Datum		values[8];
				bool		nulls[8] = {false};
				KpiExact	num = {0},
							den = {0};
				bool		hours = (k == K_FR_MEAN || k == K_RES_MEAN || k == K_RECALL_HOURS);

				if (!exists[g])
					continue;
				values[0] = DateADTGetDatum((DateADT) r->bd[p]);
				values[1] = DateADTGetDatum((DateADT) r->bd[p + 1]);
				values[2] = kname[k];
				if (g >= 1 && g <= r->ntier)
					values[3] = PointerGetDatum(cstring_to_text_with_len(r->tiers.str[g - 1],
																		 r->tiers.len[g - 1]));
				else
					nulls[3] = true;
				if (g > r->ntier)
					values[4] = PointerGetDatum(cstring_to_text_with_len(r->regions.str[g - 1 - r->ntier],
																		 r->regions.len[g - 1 - r->ntier]));
				else
					nulls[4] = true;

				if (k == K_FR_MEDIAN || k == K_RES_MEDIAN)
				{
					int			w = (k == K_FR_MEDIAN) ? 0 : 1;
					Size		pg = (Size) p * r->ngroup + g;

					nulls[5] = true;
					values[6] = NumericGetDatum(int64_to_numeric(r->med_n[w][pg]));
					if (r->med_n[w][pg] > 0)
						values[7] = num_div(DirectFunctionCall1(float8_numeric,
																Float8GetDatum(r->med_v[w][pg])),
											d3600);
					else
						nulls[7] = true;
				}
				else
				{
					Datum		nd,
								dd;

					if (k == K_RECALL_HOURS)
					{
						Size		pg = (Size) p * r->ngroup + g;

						num = r->proc_num[pg];
						kpi_exact_add_units(&den, (int128) r->proc_den[pg] * USECS_PER_SEC_NUM, 0);
					}
					else
					{
						num = gnum[g];
						den = gden[g];
					}
					nd = kpi_exact_to_numeric(&num);
					dd = kpi_exact_to_numeric(&den);
					values[5] = hours ? num_div(nd, d3600) : nd;
					values[6] = dd;
					if (kpi_exact_is_zero(&den))
						nulls[7] = true;
					else
						values[7] = hours ? num_div(num_div(nd, dd), d3600) : num_div(nd, dd);
				}
				if (r->by_kind)
				{
					/* (period_from, period_to, kpi, kind, ...): no tier column */
					memmove(&values[3], &values[4], 4 * sizeof(Datum));
					memmove(&nulls[3], &nulls[4], 4 * sizeof(bool));
				}
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
	}
}

/* ---- SQL-facing wrapper -------------------------------------------------------- */

/* run a step, logging its time at DEBUG1 */
#define PHASE(step, what) \
	do { \
		instr_time	start_, end_; \
		INSTR_TIME_SET_CURRENT(start_); \
		step; \
		INSTR_TIME_SET_CURRENT(end_); \
		INSTR_TIME_SUBTRACT(end_, start_); \
		elog(DEBUG1, "kpi engine: %s: %.0f ms", what, INSTR_TIME_GET_MILLISEC(end_)); \
	} while (0)

/* elements of a one-dimensional array without NULLs, n of them expected */
static Datum *
array_elems(ArrayType *a, Oid type, int n, const char *what)
{
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	deconstruct_array(a, type, typlen, typbyval, typalign, &elems, &nulls, &count);
	if (count != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("kpi engine argument %s has %d elements, expected %d", what, count, n),
				 errdetail("The bounds array has one element more than the period arrays."),
				 errhint("Call medcrm.kpi_series(), which computes the arguments.")));
	for (i = 0; i < n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("kpi engine argument %s must not contain nulls", what),
					 errdetail("Element %d is null.", i + 1),
					 errhint("Call medcrm.kpi_series(), which computes the arguments.")));
	return elems;
}

/* the body of medcrm.kpi_engine() and medcrm.kpi_engine_by_kind() */
static Datum
kpi_engine_run(FunctionCallInfo fcinfo, bool by_kind)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *bounds = PG_GETARG_ARRAYTYPE_P(0);
	int			nb = ArrayGetNItems(ARR_NDIM(bounds), ARR_DIMS(bounds));
	int			np = nb - 1;
	MemoryContext work,
				old;
	Run		   *r;
	Datum	   *e;
	KpiDqReader *dq;
	ParallelContext *sales;
	int			i;

	if (np < 1 || np > KPI_COVER_PERIODS)
		ereport(ERROR,
				(errcode(np < 1 ? ERRCODE_INVALID_PARAMETER_VALUE : ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("kpi engine needs 1 to %d periods, got %d", KPI_COVER_PERIODS, np),
				 errdetail("The bounds array has %d elements.", nb),
				 errhint("Call medcrm.kpi_series(), which validates the bounds.")));
	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != (by_kind ? 7 : 8))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("kpi engine result has %d columns, expected %d",
						rsinfo->setDesc->natts, by_kind ? 7 : 8),
				 errdetail("The SQL declaration of the function does not match extension/kpi_engine.c."),
				 errhint("Reinstall the extension medcrm.")));

	work = AllocSetContextCreate(CurrentMemoryContext, "kpi engine", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	r = palloc0(sizeof(Run));
	r->np = np;
	r->by_kind = by_kind;
	e = array_elems(bounds, DATEOID, nb, "bounds");
	for (i = 0; i < nb; i++)
		r->bd[i] = DatumGetDateADT(e[i]);
	e = array_elems(PG_GETARG_ARRAYTYPE_P(1), TIMESTAMPTZOID, nb, "bounds_ts");
	for (i = 0; i < nb; i++)
		r->bt[i] = DatumGetTimestampTz(e[i]);
	e = array_elems(PG_GETARG_ARRAYTYPE_P(2), DATEOID, np, "w12");
	for (i = 0; i < np; i++)
		r->w12d[i] = DatumGetDateADT(e[i]);
	e = array_elems(PG_GETARG_ARRAYTYPE_P(3), TIMESTAMPTZOID, np, "w12_ts");
	for (i = 0; i < np; i++)
		r->w12t[i] = DatumGetTimestampTz(e[i]);
	e = array_elems(PG_GETARG_ARRAYTYPE_P(4), TIMESTAMPTZOID, np, "w30_ts");
	for (i = 0; i < np; i++)
		r->w30t[i] = DatumGetTimestampTz(e[i]);
	r->now = PG_GETARG_TIMESTAMPTZ(5);
	for (i = 0; i < np; i++)
		if (r->bd[i] >= r->bd[i + 1] || r->bt[i] >= r->bt[i + 1] ||
			(i > 0 && (r->w12d[i - 1] > r->w12d[i] || r->w12t[i - 1] > r->w12t[i] ||
					   r->w30t[i - 1] > r->w30t[i])))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("kpi engine bounds must increase"),
					 errdetail("Bound %d is not before bound %d, or a window start decreases.", i + 1, i + 2),
					 errhint("Call medcrm.kpi_series(), which validates the bounds.")));

	/*
	 * Workers first: the data-quality query needs nothing from the engine,
	 * the sales worker needs the accounts. Then the service tables here,
	 * and the workers' results. SET client_min_messages = debug1 shows
	 * where the time goes.
	 */
	dq = kpi_dq_start();
	PHASE(scan_accounts(r), "accounts");
	sales = sales_worker_start(r);
	elog(DEBUG1, "kpi engine: %d data-quality and %d sales workers",
		 kpi_dq_workers(dq), sales ? sales->nworkers_launched : 0);
	kpi_dq_poll(dq);
	PHASE(scan_devices(r), "installed devices");
	kpi_dq_poll(dq);
	PHASE(scan_work_orders(r), "work orders");
	kpi_dq_poll(dq);
	PHASE(scan_visits(r), "visits");
	PHASE(scan_contracts(r), "contracts");
	PHASE(finish_contracts(r), "renewals");
	PHASE(scan_recalls(r), "recalls");
	PHASE(scan_tasks(r), "tasks");
	PHASE(sales_worker_finish(r, sales), "waiting for the sales tables");
	PHASE(apply_data_quality(r, dq), "waiting for the data-quality findings");
	PHASE(finish_recalls(r), "recall processing times");
	PHASE(finish_medians(r, &r->fr_med, 0), "first-response medians");
	PHASE(finish_medians(r, &r->res_med, 1), "resolution medians");
	PHASE(finish_cells(r), "coverage masks");

	/* result rows go to the tuplestore, which lives in the per-query context */
	MemoryContextSwitchTo(old);
	emit_results(r, rsinfo);
	MemoryContextDelete(work);
	return (Datum) 0;
}

/*
 * medcrm.kpi_engine(bounds date[], bounds_ts timestamptz[], w12 date[],
 *                   w12_ts timestamptz[], w30_ts timestamptz[], now timestamptz)
 * RETURNS TABLE (period_from date, period_to date, kpi text, tier text,
 *                region text, numerator numeric, denominator numeric, value numeric)
 */
Datum
medcrm_kpi_engine(PG_FUNCTION_ARGS)
{
	return kpi_engine_run(fcinfo, false);
}

/*
 * medcrm.kpi_engine_by_kind(the same arguments)
 * RETURNS TABLE (period_from date, period_to date, kpi text, kind text,
 *                numerator numeric, denominator numeric, value numeric)
 *
 * The same run with the account's kind in the place of its region: rows of
 * the by-kind groups only, ordered by kind. Kind is NOT NULL; the kind
 * '(none)' holds the rows without an account (tasks), as the region '(none)'
 * does, so the kinds add up to the overall row.
 */
Datum
medcrm_kpi_engine_by_kind(PG_FUNCTION_ARGS)
{
	return kpi_engine_run(fcinfo, true);
}
