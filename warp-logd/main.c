/*
 * main.c -- warp-logd, the event store of the warp suite: receives comm
 * and conn events from warp-proxyd on log.sock and stores each one exactly
 * once in a JSON file, SQLite and/or MySQL, with Slack notifications.
 * Everything happens in logd.c and the sink threads; see docs/logd.md.
 */
#include "daemon.h"
#include "logd.h"

int
main(int argc, char **argv)
{
	return daemon_main(&logd_spec, argc, argv);
}
