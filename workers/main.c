/*
 * main.c — command line of medcrm-report, the medcrm report worker.
 *
 * medcrm-report connects to a medcrm database through libpq and writes the KPI
 * and compliance workbooks. This file only parses the command line and
 * dispatches; each capability lives in its own file beside it.
 *
 * Exit codes: 0 success, 1 failure, 2 usage or configuration error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "medcrm-report"

static void
help(void)
{
	printf("%s writes medcrm's KPI and compliance workbooks.\n\n", PROGRAM);
	printf("Usage:\n");
	printf("  %s run kpi|compliance [--from DATE] [--to DATE] [-o FILE]\n", PROGRAM);
	printf("\nOptions:\n");
	printf("  -d, --dbname=CONNINFO  database to read (default: PG* environment)\n");
	printf("  -V, --version          print the version and exit\n");
	printf("  -?, --help             show this help and exit\n");
	printf("\nExit status: 0 success, 1 failure, 2 usage or configuration error.\n");
}

int
main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, '?'},
		{NULL, 0, NULL, 0}
	};
	int			c;

	while ((c = getopt_long(argc, argv, "d:V?", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				break;
			case 'V':
				printf("%s (medcrm) %s\n", PROGRAM, MEDCRM_VERSION);
				return 0;
			case '?':
				if (optopt == 0 && strcmp(argv[optind - 1], "-?") != 0 &&
					strcmp(argv[optind - 1], "--help") != 0)
				{
					fprintf(stderr, "Try \"%s --help\" for more information.\n", PROGRAM);
					return 2;
				}
				help();
				return 0;
			default:
				fprintf(stderr, "Try \"%s --help\" for more information.\n", PROGRAM);
				return 2;
		}
	}
	fprintf(stderr, "%s: no command given\n", PROGRAM);
	fprintf(stderr, "Try \"%s --help\" for more information.\n", PROGRAM);
	return 2;
}
