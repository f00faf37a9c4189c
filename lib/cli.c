// SPDX-License-Identifier: GPL-2.0-or-later
/* Command-line conventions shared by the blksnap tools. */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "cli.h"
#include "blksnap/archive.h"
#include "blksnap/control.h"
#include "blksnap/error.h"
#include "blksnap/remote.h"
#include "blksnap/source.h"

int cli_verbose;
bool cli_quiet;
bool cli_progress_wanted;

static __attribute__((format(printf, 1, 0))) void
vmessage(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

/*
 * Like util-linux's close_stdout: data written through stdio is only
 * known to have arrived once the final flush and close succeeded.
 */
static void close_stdout(void)
{
	bool failed = ferror(stdout) != 0;
	int err = errno;

	if (fflush(stdout) != 0) {
		failed = true;
		err = errno;
	}
	if (fclose(stdout) != 0 && errno != EBADF) {
		failed = true;
		err = errno;
	}
	if (failed) {
		fprintf(stderr, "%s: write error on standard output: %s\n",
			program_invocation_short_name, strerror(err));
		_exit(EXIT_FAILURE);
	}
}

void cli_init(void)
{
	signal(SIGPIPE, SIG_IGN);
	atexit(close_stdout);
}

noreturn void cli_version(void)
{
	printf("%s (blksnap) %s\n", program_invocation_short_name,
	       PACKAGE_VERSION);
	exit(EXIT_SUCCESS);
}

noreturn void cli_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	exit(EXIT_FAILURE);
}

noreturn void cli_die_lib(void)
{
	cli_die("%s", blksnap_error());
}

noreturn void cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n",
		program_invocation_short_name);
	exit(EXIT_USAGE);
}

void cli_info(const char *fmt, ...)
{
	va_list ap;

	if (!cli_verbose)
		return;
	va_start(ap, fmt);
	vmessage(fmt, ap);
	va_end(ap);
}

uint64_t cli_parse_size(const char *arg, const char *option)
{
	static const char units[] = "KMGTPE";
	const char *u;
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	if (arg[0] < '0' || arg[0] > '9')
		goto bad;
	v = strtoull(arg, &end, 10);
	if (errno)
		goto bad;
	if (*end) {
		u = strchr(units, *end >= 'a' ? *end - 32 : *end);
		if (!u || !*u)
			goto bad;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end || (v && v > (~0ULL >> shift)))
			goto bad;
	}
	return (uint64_t)v << shift;
bad:
	cli_usage_error("invalid size for %s: '%s'", option, arg);
}

long cli_parse_long(const char *arg, const char *option, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		cli_usage_error("invalid value for %s: '%s' (expected %ld to %ld)",
				option, arg, min, max);
	return v;
}

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *cli_human_size(uint64_t bytes, char *buf, size_t size)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)bytes;
	unsigned int i = 0;

	while (v >= 1024 && i + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, size, "%.2f %s", v, unit[i]);
	return buf;
}

void cli_progress_start(struct cli_progress *p, const char *label)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->shown = !cli_quiet && (cli_progress_wanted || isatty(STDERR_FILENO));
	p->start = cli_now();
}

void cli_progress_update(void *ctx, uint64_t done, uint64_t total)
{
	struct cli_progress *p = ctx;
	char a[32], b[32], r[32];
	double now, secs;

	p->done = done;
	if (!p->shown)
		return;
	now = cli_now();
	if (now - p->last < 0.2 && done != total)
		return;
	p->last = now;
	secs = now - p->start;
	fprintf(stderr, "\r%s: %s / %s (%3.0f%%), %s/s   ", p->label,
		cli_human_size(done, a, sizeof(a)),
		cli_human_size(total, b, sizeof(b)),
		total ? 100.0 * (double)done / (double)total : 100.0,
		cli_human_size(secs > 0 ? (uint64_t)((double)done / secs) : 0,
			       r, sizeof(r)));
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->shown && p->last > 0)
		fputc('\n', stderr);
}

static struct blksnap_remote_opts remote = { .retries = -1 };

static bool remote_option(int c)
{
	switch (c) {
	case CLI_OPT_S3_ENDPOINT: remote.s3_endpoint = optarg; break;
	case CLI_OPT_S3_REGION: remote.s3_region = optarg; break;
	case CLI_OPT_S3_PATH_STYLE: remote.s3_path_style = true; break;
	case CLI_OPT_CACERT: remote.cacert = optarg; break;
	case CLI_OPT_INSECURE: remote.insecure = true; break;
	case CLI_OPT_TIMEOUT:
		remote.timeout = cli_parse_long(optarg, "--timeout", 1, 86400);
		break;
	case CLI_OPT_RETRIES:
		remote.retries = (int)cli_parse_long(optarg, "--retries", 0, 20);
		break;
	case CLI_OPT_SSH_KEY: remote.ssh_key = optarg; break;
	case CLI_OPT_SSH_KNOWN_HOSTS: remote.ssh_known_hosts = optarg; break;
	default:
		return false;
	}
	return true;
}

static void remote_message(void *ctx, const char *text)
{
	(void)ctx;
	cli_info("%s", text);
}

void cli_compress_init(struct cli_compress *cc, struct blksnap_compress *c)
{
	cc->level = -1;
	cc->threads = 0;
	cc->given = false;
	blksnap_compress_parse("zstd", c);
}

void cli_compress_option(int opt, const char *arg, struct cli_compress *cc,
			 struct blksnap_compress *c)
{
	switch (opt) {
	case 'c':
		cc->given = true;
		if (blksnap_compress_parse(arg, c))
			cli_usage_error("%s", blksnap_error());
		break;
	case CLI_OPT_LEVEL:
		cc->level = (int)cli_parse_long(arg, "--level", 0, 22);
		break;
	case 'T':
		cc->threads = (int)cli_parse_long(arg, "--threads", 1, 256);
		break;
	}
}

void cli_compress_finish(struct cli_compress *cc, struct blksnap_compress *c)
{
	if (cc->level >= 0 && blksnap_compress_set_level(c, cc->level))
		cli_usage_error("--level: %s", blksnap_error());
	/* All CPUs by default, asked only here: sysconf() reads /sys. */
	if (!strcmp(c->method, "zstd") || !strcmp(c->method, "xz")) {
		if (!cc->threads)
			cc->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
		c->threads = cc->threads > 0 ? cc->threads : 1;
	}
}

void cli_remote_setup(void)
{
	if (cli_verbose)
		remote.message = remote_message;
	blksnap_remote_set_defaults(&remote);
}

const struct blksnap_remote_opts *cli_remote_opts(void)
{
	return &remote;
}

int cli_open_control(void)
{
	int fd = blksnap_ctl_open();

	if (fd == -ENOENT || fd == -ENXIO || fd == -ENODEV)
		cli_die("%s: the blksnap module is not loaded: load it with 'modprobe blksnap' (or insmod blksnap.ko)",
			BLKSNAP_CTL_PATH);
	if (fd == -EACCES || fd == -EPERM)
		cli_die("%s: permission denied: the blksnap module is driven by root (CAP_SYS_ADMIN)",
			BLKSNAP_CTL_PATH);
	if (fd < 0)
		cli_die("%s: %s", BLKSNAP_CTL_PATH, strerror(-fd));
	cli_check_control(fd);
	return fd;
}

/*
 * Veeam's blksnap.ko, another module of the same name, also creates
 * /dev/blksnap-control; its VERSION ioctl is 'V' 0 with four __u16
 * (major, minor, revision, build).  Asked only once ours went unanswered,
 * to name what is loaded instead.
 */
struct veeam_blksnap_version {
	uint16_t major, minor, revision, build;
};
#define VEEAM_BLKSNAP_IOCTL_VERSION _IOR('V', 0, struct veeam_blksnap_version)

/* The loaded module's MODULE_VERSION, or "" if it has none. */
static void loaded_module_version(char *buf, size_t size)
{
	FILE *f = fopen("/sys/module/blksnap/version", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

void cli_check_control(int fd)
{
	struct veeam_blksnap_version veeam;
	struct blksnap_version ver;
	char modver[64];
	int ret = blksnap_ctl_version(fd, &ver);

	if (!ret && ver.major == BLKSNAP_VERSION_MAJOR)
		return;
	if (!ret)
		cli_die("the loaded blksnap module speaks interface version %u, this tool %d: load the module of the same release",
			ver.major, BLKSNAP_VERSION_MAJOR);
	/*
	 * A driver without the ioctl answers ENOTTY (EINVAL from some): the
	 * device is not this project's module.
	 */
	if (ret != -ENOTTY && ret != -EINVAL)
		return;
	loaded_module_version(modver, sizeof(modver));
	memset(&veeam, 0, sizeof(veeam));
	if (ioctl(fd, VEEAM_BLKSNAP_IOCTL_VERSION, &veeam) == 0)
		cli_die("%s is Veeam's blksnap module (version %u.%u.%u.%u), another module of the same name, not this project's: unload it (rmmod blksnap) and load this one (modprobe blksnap, package blksnap-dkms)",
			BLKSNAP_CTL_PATH, veeam.major, veeam.minor,
			veeam.revision, veeam.build);
	cli_die("%s does not answer this project's VERSION ioctl (%s): another module named blksnap is loaded%s%s%s; unload it (rmmod blksnap) and load this one (modprobe blksnap, package blksnap-dkms)",
		BLKSNAP_CTL_PATH, strerror(-ret),
		modver[0] ? " (version " : "", modver, modver[0] ? ")" : "");
}

dev_t cli_block_device(const char *spec, char **path)
{
	struct stat st;

	if (blksnap_resolve(spec, path))
		cli_die_lib();
	if (stat(*path, &st) < 0)
		cli_die("%s: %m", *path);
	if (!S_ISBLK(st.st_mode))
		cli_die("%s: not a block device", *path);
	return st.st_rdev;
}

/* "--name" of option @val in @longopts (its first entry), else "-x". */
static const char *option_name(const struct option *longopts, int val)
{
	static char name[2][64];
	static unsigned int turn;
	char *buf = name[turn++ % 2];	/* two names in one message */
	const struct option *o;

	for (o = longopts; o->name; o++)
		if (o->val == val && !o->flag)
			break;
	if (o->name)
		snprintf(buf, sizeof(name[0]), "--%s", o->name);
	else
		snprintf(buf, sizeof(name[0]), "-%c", val);
	return buf;
}

/*
 * The option getopt_long just stopped at, as typed: a long one is the
 * word before optind (up to '='); a short one is only known as optopt.
 */
static const char *typed_option(char **argv, bool is_long)
{
	static char name[64];
	const char *word = argv[optind - 1];

	if (is_long && !strncmp(word, "--", 2))
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(word, "="), word);
	else
		snprintf(name, sizeof(name), "-%c", optopt);
	return name;
}

static noreturn void bad_option(char **argv, const struct cli_parser *p, int c)
{
	/*
	 * optopt is 0 for an unknown long option and the option's value for
	 * a long one given an argument it does not take; otherwise it is an
	 * unknown letter, in neither the optstring nor the long options.
	 */
	bool known = optopt > 0 && optopt != ':' &&
		((optopt < 256 && strchr(p->shortopts, optopt)) || optopt >= 256);

	if (c == ':')
		cli_usage_error("option '%s' requires an argument",
				typed_option(argv, true));
	if (known)
		cli_usage_error("option '%s' does not take an argument",
				typed_option(argv, true));
	if (optopt == 0)
		cli_usage_error("unknown or ambiguous option '%s'",
				typed_option(argv, true));
	cli_usage_error("unknown option '%s'", typed_option(argv, false));
}

/* "--a and --b are mutually exclusive" if @c is in a group already met. */
static void check_exclusive(struct cli_parser *p, int c)
{
	const cli_group_t *g;
	unsigned int i, j;

	for (g = p->exclusive, i = 0; g && (*g)[0] && i < CLI_GROUP_MAX; g++, i++) {
		for (j = 0; j < CLI_GROUP_MAX && (*g)[j]; j++)
			if ((*g)[j] == c)
				break;
		if (j == CLI_GROUP_MAX || !(*g)[j])
			continue;
		if (p->seen[i] && p->seen[i] != c)
			cli_usage_error("%s and %s are mutually exclusive",
					option_name(p->longopts, p->seen[i]),
					option_name(p->longopts, c));
		p->seen[i] = c;
	}
}

/* Noted after parsing, so that a --quiet later on the line silences them. */
static void note_aliases(const struct cli_parser *p)
{
	unsigned int i;

	if (cli_quiet)
		return;
	for (i = 0; p->aliases && p->aliases[i].old; i++)
		if (p->aliases_used & (1u << i))
			fprintf(stderr, "%s: %s is deprecated, use %s\n",
				program_invocation_short_name, p->aliases[i].spelling,
				option_name(p->longopts, p->aliases[i].now));
}

static int alias(struct cli_parser *p, int c)
{
	unsigned int i;

	for (i = 0; p->aliases && p->aliases[i].old; i++) {
		if (p->aliases[i].old == c) {
			p->aliases_used |= 1u << i;
			return p->aliases[i].now;
		}
	}
	return c;
}

int cli_getopt(int argc, char **argv, struct cli_parser *p)
{
	int c;

	for (;;) {
		c = getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
		switch (c) {
		case -1:
			note_aliases(p);
			return -1;
		case ':':
		case '?':
			bad_option(argv, p, c);
		case 'p':
			cli_progress_wanted = true;
			continue;
		case 'q':
			cli_quiet = true;
			continue;
		case 'v':
			cli_verbose++;
			continue;
		case 'h':
			p->usage();
		case 'V':
			cli_version();
		}
		if (p->remote && remote_option(c))
			continue;
		c = alias(p, c);
		check_exclusive(p, c);
		return c;
	}
}

noreturn void cli_help_tail(int width, unsigned int flags, const char *see)
{
	static const char *const common[][2] = {
		{ "-p, --progress", "show progress even when stderr is no terminal" },
		{ "-q, --quiet", "no progress, only errors" },
		{ "-v, --verbose", "say what is done" },
		{ "-h, --help", "display this help" },
		{ "-V, --version", "display version" },
	};
	static const char *const quick[] = {
		"accepted for symmetry; the tool is quick", "only errors",
	};
	unsigned int i;

	for (i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		printf(" %-*s%s\n", width, common[i][0],
		       (flags & CLI_HELP_QUICK) && i < 2 ? quick[i] : common[i][1]);
	if (flags & CLI_HELP_REMOTE)
		fputs("\n"
		      "Remote storage (archives named by file://, http(s)://, s3:// or sftp:// URLs):\n"
		      "     --s3-endpoint URL      S3 endpoint (default: $BLKSNAP_S3_ENDPOINT,\n"
		      "                              $AWS_ENDPOINT_URL or AWS's for the region)\n"
		      "     --s3-region REGION     S3 region (default: $AWS_REGION or us-east-1)\n"
		      "     --s3-path-style        address buckets as ENDPOINT/BUCKET/KEY\n"
		      "     --cacert FILE          verify TLS servers with the CAs in FILE\n"
		      "     --insecure             do not verify TLS certificates\n"
		      "     --timeout SECONDS      connect timeout and stall limit (default 30)\n"
		      "     --retries N            retries of a failed request (default 3)\n"
		      "     --ssh-key FILE         sftp private key (default ~/.ssh/id_ed25519)\n"
		      "     --ssh-known-hosts FILE sftp known hosts (default ~/.ssh/known_hosts)\n",
		      stdout);
	printf("\nSee %s.\n", see);
	exit(EXIT_SUCCESS);
}
