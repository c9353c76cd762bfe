/*
 * copy_csv.c — the baseline of bench_report.sh: COPY (query) TO STDOUT CSV
 * through libpq into a file, the fastest way to get rows out of PostgreSQL.
 *
 *   copy_csv QUERY FILE      (connection from the PG* environment)
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	PGresult   *res;
	FILE	   *out;
	char	   *sql,
			   *buf;
	int			n;

	if (argc != 3)
	{
		fprintf(stderr, "usage: copy_csv QUERY FILE\n");
		return 2;
	}
	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "copy_csv: %s", PQerrorMessage(conn));
		return 1;
	}
	sql = malloc(strlen(argv[1]) + 64);
	sprintf(sql, "COPY (%s) TO STDOUT (FORMAT csv, HEADER)", argv[1]);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		fprintf(stderr, "copy_csv: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);
	out = fopen(argv[2], "w");
	if (out == NULL)
	{
		perror("copy_csv");
		return 1;
	}
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0)
	{
		fwrite(buf, 1, n, out);
		PQfreemem(buf);
	}
	res = PQgetResult(conn);
	if (n != -1 || PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "copy_csv: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);
	if (fclose(out) != 0)
	{
		perror("copy_csv");
		return 1;
	}
	PQfinish(conn);
	free(sql);
	return 0;
}
