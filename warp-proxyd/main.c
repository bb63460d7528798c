/*
 * main.c -- warp-proxyd, the only warp process that touches SMTP sockets
 * and TLS.  Everything it does is in the other files of this directory;
 * start-up, privilege drop and the event loop are the common skeleton's.
 */
#include "daemon.h"

extern const struct daemon_spec proxyd_spec;

int
main(int argc, char **argv)
{
	return daemon_main(&proxyd_spec, argc, argv);
}
