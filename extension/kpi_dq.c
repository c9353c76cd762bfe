/*
 * kpi_dq.c — the accounts with open data-quality findings, for the KPI
 * engine's data_error_rate, read from medcrm.v_data_quality in a parallel
 * worker while the engine scans the fact tables.
 *
 * data_error_rate counts the accounts that have at least one row in
 * medcrm.v_data_quality, so the findings keep one definition (the view).
 * Evaluating the view reads about as many bytes as all the engine's own
 * scans (each check is a filtered scan of its table), so the engine starts
 * the query in a parallel worker (access/parallel.h: same transaction,
 * snapshot, user and settings as the caller) before its first scan, and
 * collects the account ids from shared-memory queues between its scans and
 * at the end.
 *
 * Two workers share the view: one reads the findings of the tables in
 * KPI_DQ_SPLIT (WHERE table_name = ANY), the other all the others (WHERE
 * NOT ...). table_name is a constant in every branch of the view and the
 * comparison is leakproof, so the planner keeps in each query only the
 * branches it needs: two halves of the work, together exactly the view,
 * whatever branches it has. The split only balances the bytes read.
 *
 * A half that no worker took (max_worker_processes used up,
 * max_parallel_workers or max_parallel_workers_per_gather 0) runs in the
 * calling backend at the end, with the same result.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"

#include "kpi.h"

/* the two halves of the query (see above) */
#define KPI_DQ_SPLIT	"'{contact,invoice,visit}'::pg_catalog.text[]"
static const char *const kpi_dq_query[2] = {
	"SELECT DISTINCT q.account_id::pg_catalog.int8 FROM medcrm.v_data_quality AS q "
	"WHERE q.account_id IS NOT NULL AND q.table_name OPERATOR(pg_catalog.=) ANY (" KPI_DQ_SPLIT ")",
	"SELECT DISTINCT q.account_id::pg_catalog.int8 FROM medcrm.v_data_quality AS q "
	"WHERE q.account_id IS NOT NULL AND NOT q.table_name OPERATOR(pg_catalog.=) ANY (" KPI_DQ_SPLIT ")"
};

#define KPI_DQ_PARTS		2
#define KPI_DQ_KEY_QUEUE	UINT64CONST(0x6D6564636B706901)	/* + part */
#define KPI_DQ_QUEUE_SIZE	((Size) 4 * 1024 * 1024)
#define KPI_DQ_BATCH		1024	/* ids per message */

struct KpiDqReader
{
	ParallelContext *pcxt;		/* NULL: no worker */
	int			nworkers;		/* parts 0 .. nworkers-1 run in workers */
	shm_mq_handle *mqh[KPI_DQ_PARTS];
	bool		done[KPI_DQ_PARTS]; /* the worker detached */
	int64	   *ids;
	Size		n;
	Size		cap;
};

PGDLLEXPORT void medcrm_kpi_dq_worker(dsm_segment *seg, shm_toc *toc);

static void
reader_add(KpiDqReader *rd, const int64 *ids, Size n)
{
	if (rd->n + n > rd->cap)
	{
		while (rd->n + n > rd->cap)
			rd->cap *= 2;
		rd->ids = repalloc_huge(rd->ids, rd->cap * sizeof(int64));
	}
	memcpy(rd->ids + rd->n, ids, n * sizeof(int64));
	rd->n += n;
}

/* Run part of the query with SPI; hand each batch of ids to emit. */
static void
run_query(int part, void (*emit) (void *arg, const int64 *ids, Size n), void *arg)
{
	int64		batch[KPI_DQ_BATCH];
	Size		nb = 0;
	uint64		i;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(kpi_dq_query[part], true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (isnull)
			continue;
		batch[nb++] = DatumGetInt64(d);
		if (nb == KPI_DQ_BATCH)
		{
			emit(arg, batch, nb);
			nb = 0;
		}
	}
	if (nb > 0)
		emit(arg, batch, nb);
	SPI_finish();
}

static void
emit_local(void *arg, const int64 *ids, Size n)
{
	reader_add((KpiDqReader *) arg, ids, n);
}

static void
emit_queue(void *arg, const int64 *ids, Size n)
{
	shm_mq_result res = shm_mq_send((shm_mq_handle *) arg, n * sizeof(int64), ids, false, true);

	if (res != SHM_MQ_SUCCESS)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("kpi engine stopped reading data-quality findings")));
}

/* Entry point of the parallel worker (found by name by ParallelWorkerMain). */
void
medcrm_kpi_dq_worker(dsm_segment *seg, shm_toc *toc)
{
	int			part = ParallelWorkerNumber;
	shm_mq	   *mq = shm_toc_lookup(toc, KPI_DQ_KEY_QUEUE + part, false);
	shm_mq_handle *mqh;

	shm_mq_set_sender(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);
	run_query(part, emit_queue, mqh);
	shm_mq_detach(mqh);
}

KpiDqReader *
kpi_dq_start(void)
{
	KpiDqReader *rd = palloc0(sizeof(KpiDqReader));
	ParallelContext *pcxt;
	int			k;

	rd->cap = 1024;
	rd->ids = palloc(rd->cap * sizeof(int64));
	if (IsParallelWorker() || max_parallel_workers_per_gather <= 0)
		return rd;

	EnterParallelMode();
	pcxt = CreateParallelContext("medcrm", "medcrm_kpi_dq_worker", KPI_DQ_PARTS);
	for (k = 0; k < KPI_DQ_PARTS; k++)
		shm_toc_estimate_chunk(&pcxt->estimator, KPI_DQ_QUEUE_SIZE);
	shm_toc_estimate_keys(&pcxt->estimator, KPI_DQ_PARTS);
	InitializeParallelDSM(pcxt);
	if (pcxt->seg == NULL)
	{
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return rd;
	}
	for (k = 0; k < KPI_DQ_PARTS; k++)
	{
		shm_mq	   *mq = shm_mq_create(shm_toc_allocate(pcxt->toc, KPI_DQ_QUEUE_SIZE),
									   KPI_DQ_QUEUE_SIZE);

		shm_toc_insert(pcxt->toc, KPI_DQ_KEY_QUEUE + k, mq);
		shm_mq_set_receiver(mq, MyProc);
		rd->mqh[k] = shm_mq_attach(mq, pcxt->seg, NULL);
	}
	LaunchParallelWorkers(pcxt);
	rd->nworkers = pcxt->nworkers_launched;
	if (rd->nworkers == 0)
	{
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return rd;
	}
	for (k = 0; k < rd->nworkers; k++)
		shm_mq_set_handle(rd->mqh[k], pcxt->worker[k].bgwhandle);
	rd->pcxt = pcxt;
	return rd;
}

/* Take what the workers have sent so far; wait for the rest when wait. */
static void
drain(KpiDqReader *rd, bool wait)
{
	int			k;

	for (k = 0; rd->pcxt && k < rd->nworkers; k++)
	{
		while (!rd->done[k])
		{
			Size		len;
			void	   *data;
			shm_mq_result res = shm_mq_receive(rd->mqh[k], &len, &data, !wait);

			if (res == SHM_MQ_WOULD_BLOCK)
				break;
			if (res == SHM_MQ_DETACHED)
				rd->done[k] = true;
			else
				reader_add(rd, (const int64 *) data, len / sizeof(int64));
		}
	}
}

void
kpi_dq_poll(KpiDqReader *rd)
{
	drain(rd, false);
}

const int64 *
kpi_dq_finish(KpiDqReader *rd, Size *n)
{
	int			k;

	if (rd->pcxt)
	{
		drain(rd, true);
		/* raises a worker's error, if one failed before sending everything */
		WaitForParallelWorkersToFinish(rd->pcxt);
		DestroyParallelContext(rd->pcxt);
		rd->pcxt = NULL;
		ExitParallelMode();
	}
	/* the parts no worker took; an account may then come twice: harmless */
	for (k = rd->nworkers; k < KPI_DQ_PARTS; k++)
		run_query(k, emit_local, rd);
	*n = rd->n;
	return rd->ids;
}
