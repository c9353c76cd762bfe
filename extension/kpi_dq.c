/*
 * kpi_dq.c — the accounts with open data-quality findings, for the KPI
 * engine's data_error_rate, read from medcrm.v_data_quality in a parallel
 * worker while the engine scans the fact tables.
 *
 * data_error_rate counts the accounts that have at least one row in
 * medcrm.v_data_quality, so the findings keep one definition (the view).
 * Its checks are served by partial indexes on the offending rows
 * (sql/src/45_data_quality.sql), so the query is short, but the engine
 * still starts it in a parallel worker (access/parallel.h: same
 * transaction, snapshot, user and settings as the caller) before its first
 * scan, and collects the account ids from a shared-memory queue between
 * its scans and at the end. Where no worker can be had
 * (max_worker_processes used up, max_parallel_workers or
 * max_parallel_workers_per_gather 0), the query runs in the calling backend
 * at the end, with the same result.
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

#define KPI_DQ_QUERY \
	"SELECT DISTINCT q.account_id::pg_catalog.int8 FROM medcrm.v_data_quality AS q " \
	"WHERE q.account_id IS NOT NULL"

#define KPI_DQ_KEY_QUEUE	UINT64CONST(0x6D6564636B706901)
#define KPI_DQ_QUEUE_SIZE	((Size) 4 * 1024 * 1024)
#define KPI_DQ_BATCH		1024	/* ids per message */

struct KpiDqReader
{
	ParallelContext *pcxt;		/* NULL: run the query at the end instead */
	shm_mq_handle *mqh;
	bool		done;			/* the worker detached */
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

/* Run the query with SPI; hand each batch of ids to emit. */
static void
run_query(void (*emit) (void *arg, const int64 *ids, Size n), void *arg)
{
	int64		batch[KPI_DQ_BATCH];
	Size		nb = 0;
	uint64		i;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(KPI_DQ_QUERY, true, 0);
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
	shm_mq	   *mq = shm_toc_lookup(toc, KPI_DQ_KEY_QUEUE, false);
	shm_mq_handle *mqh;

	shm_mq_set_sender(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);
	run_query(emit_queue, mqh);
	shm_mq_detach(mqh);
}

KpiDqReader *
kpi_dq_start(void)
{
	KpiDqReader *rd = palloc0(sizeof(KpiDqReader));
	ParallelContext *pcxt;
	shm_mq	   *mq;

	rd->cap = 1024;
	rd->ids = palloc(rd->cap * sizeof(int64));
	if (IsParallelWorker() || max_parallel_workers_per_gather <= 0)
		return rd;

	EnterParallelMode();
	pcxt = CreateParallelContext("medcrm", "medcrm_kpi_dq_worker", 1);
	shm_toc_estimate_chunk(&pcxt->estimator, KPI_DQ_QUEUE_SIZE);
	shm_toc_estimate_keys(&pcxt->estimator, 1);
	InitializeParallelDSM(pcxt);
	mq = shm_mq_create(shm_toc_allocate(pcxt->toc, KPI_DQ_QUEUE_SIZE), KPI_DQ_QUEUE_SIZE);
	shm_toc_insert(pcxt->toc, KPI_DQ_KEY_QUEUE, mq);
	shm_mq_set_receiver(mq, MyProc);
	rd->mqh = shm_mq_attach(mq, pcxt->seg, NULL);
	LaunchParallelWorkers(pcxt);
	if (pcxt->nworkers_launched == 0)
	{
		shm_mq_detach(rd->mqh);
		rd->mqh = NULL;
		DestroyParallelContext(pcxt);
		ExitParallelMode();
		return rd;
	}
	shm_mq_set_handle(rd->mqh, pcxt->worker[0].bgwhandle);
	rd->pcxt = pcxt;
	return rd;
}

/* Take what the worker has sent so far; wait for the rest when wait. */
static void
drain(KpiDqReader *rd, bool wait)
{
	while (rd->pcxt && !rd->done)
	{
		Size		len;
		void	   *data;
		shm_mq_result res = shm_mq_receive(rd->mqh, &len, &data, !wait);

		if (res == SHM_MQ_WOULD_BLOCK)
			return;
		if (res == SHM_MQ_DETACHED)
		{
			rd->done = true;
			return;
		}
		reader_add(rd, (const int64 *) data, len / sizeof(int64));
	}
}

int
kpi_dq_workers(const KpiDqReader *rd)
{
	return rd->pcxt ? 1 : 0;
}

void
kpi_dq_poll(KpiDqReader *rd)
{
	drain(rd, false);
}

const int64 *
kpi_dq_finish(KpiDqReader *rd, Size *n)
{
	if (rd->pcxt)
	{
		drain(rd, true);
		/* raises the worker's error, if it failed before sending everything */
		WaitForParallelWorkersToFinish(rd->pcxt);
		DestroyParallelContext(rd->pcxt);
		rd->pcxt = NULL;
		ExitParallelMode();
	}
	else
		run_query(emit_local, rd);
	*n = rd->n;
	return rd->ids;
}
