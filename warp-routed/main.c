/*
 * main.c -- warp-routed, the outbound-address daemon: warp-proxyd asks it
 * over route.sock which source address to use toward a destination and
 * reports each delivery attempt back.  The daemon itself is routed.c; the
 * start-up, privilege drop and event loop are the common skeleton's.
 */
#include "daemon.h"

extern const struct daemon_spec routed_spec;

int
main(int argc, char **argv)
{
	return daemon_main(&routed_spec, argc, argv);
}
