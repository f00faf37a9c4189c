// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tools' check of the control device (cli_check_control): a device
 * that is not this project's module gets a message naming the problem,
 * not an obscure failure of a later ioctl.  The module is faked: this
 * program's ioctl() replaces libc's for the library linked into it, and
 * answers as this project's module of this or another interface version
 * would, as Veeam's blksnap.ko (another module of the same name, with its
 * own /dev/blksnap-control) would, or as a driver knowing neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include "blksnap/control.h"
#include "cli.h"
#include "tap.h"

static enum { OURS, OTHER_MAJOR, VEEAM, UNKNOWN } fake;

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	(void)fd;
	if (req == BLKSNAP_IOCTL_VERSION && (fake == OURS || fake == OTHER_MAJOR)) {
		struct blksnap_version *v = arg;

		v->major = fake == OURS ? BLKSNAP_VERSION_MAJOR : BLKSNAP_VERSION_MAJOR + 1;
		v->minor = 0;
		return 0;
	}
	/* Veeam's VERSION: 'V' 0, four __u16 (its uapi linux/blksnap.h). */
	if (req == _IOR('V', 0, uint16_t[4]) && fake == VEEAM) {
		uint16_t *v = arg;

		v[0] = 6, v[1] = 3, v[2] = 0, v[3] = 73;
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

/* Runs the check in a child: its exit status, its stderr in @msg. */
static int check(char *msg, size_t size)
{
	int pipefd[2], status;
	ssize_t n, len = 0;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		cli_check_control(open("/dev/null", O_RDWR));
		_exit(0);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], msg + len, size - 1 - len)) > 0)
		len += n;
	msg[len] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(void)
{
	char msg[1024];
	int st;

	fake = OURS;
	st = check(msg, sizeof(msg));
	ok(st == 0 && !msg[0], "this project's module, same interface: accepted");

	fake = OTHER_MAJOR;
	st = check(msg, sizeof(msg));
	ok(st == 1 && strstr(msg, "speaks interface version 2, this tool 1"),
	   "another interface version: exit 1 naming both versions");
	printf("# %s", msg);

	fake = VEEAM;
	st = check(msg, sizeof(msg));
	ok(st == 1 && strstr(msg, "/dev/blksnap-control is Veeam's blksnap module (version 6.3.0.73)") &&
	   strstr(msg, "not this project's") && strstr(msg, "rmmod blksnap"),
	   "Veeam's blksnap.ko: named, with its version and what to do");
	printf("# %s", msg);

	fake = UNKNOWN;
	st = check(msg, sizeof(msg));
	ok(st == 1 && strstr(msg, "does not answer this project's VERSION ioctl") &&
	   strstr(msg, "another module named blksnap is loaded"),
	   "a control device answering neither: another module named blksnap");
	printf("# %s", msg);
	return tap_done();
}
