/*
 * main.c -- warp-filterd, the message policy daemon: warp-proxyd holds a
 * message at end-of-DATA and asks it over filter.sock whether to relay,
 * reject, tempfail or add headers.  The daemon itself is filterd.c; the
 * start-up, privilege drop and event loop are the common skeleton's.
 */
#include "daemon.h"

extern const struct daemon_spec filterd_spec;

int
main(int argc, char **argv)
{
	return daemon_main(&filterd_spec, argc, argv);
}
