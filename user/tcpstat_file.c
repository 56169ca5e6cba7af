// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
/* The stream layer's snapshot in its file (tcpstat_file.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tcpstat_file.h"

#define FILE_NAME "tcp"

static int dir_of(const char *ifname, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", UDPC_RUN_ROOT, ifname);

	/* a name that would leave the directory is no interface's */
	if (!*ifname || strchr(ifname, '/') || !strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return -EINVAL;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int tcpstat_path(const char *ifname, char *buf, size_t len)
{
	int n, err = dir_of(ifname, buf, len);

	if (err)
		return err;
	n = snprintf(buf, len, "%s/%s/" FILE_NAME, UDPC_RUN_ROOT, ifname);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int tcpstat_publish(const char *ifname, const struct tcpstat *t)
{
	char dir[128], path[160], tmp[192];
	FILE *f;
	int fd, err;

	err = dir_of(ifname, dir, sizeof(dir));
	if (!err)
		err = tcpstat_path(ifname, path, sizeof(path));
	if (err)
		return err;
	if ((mkdir(UDPC_RUN_ROOT, 0700) && errno != EEXIST) || (mkdir(dir, 0700) && errno != EEXIST))
		return -errno;
	/* the pid in the name: two writers (a restart racing its predecessor) never share one */
	snprintf(tmp, sizeof(tmp), "%s/." FILE_NAME ".%d.tmp", dir, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	err = tcpstat_write(f, t);
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

void tcpstat_unpublish(const char *ifname)
{
	char dir[128], path[160];

	if (dir_of(ifname, dir, sizeof(dir)) || tcpstat_path(ifname, path, sizeof(path)))
		return;
	unlink(path);
	rmdir(dir); /* fails while something else is in it: then it stays */
}

int tcpstat_load(const char *ifname, struct tcpstat *t, char *err, size_t errlen)
{
	char path[160], *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, ret;

	memset(t, 0, sizeof(*t));
	ret = tcpstat_path(ifname, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len == cap) {
			char *more;

			if (cap >= TCPSTAT_FILE_MAX) {
				snprintf(err, errlen, "longer than %u MiB", TCPSTAT_FILE_MAX >> 20);
				ret = -EFBIG;
				break;
			}
			cap = cap ? 2 * cap : 65536;
			more = realloc(buf, cap);
			if (!more) {
				ret = -ENOMEM;
				break;
			}
			buf = more;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	if (!ret)
		ret = tcpstat_parse(buf ? buf : "", len, t, err, errlen);
	free(buf);
	return ret;
}

uint64_t tcpstat_proc_start(pid_t pid)
{
	char path[64], stat[1024], *p, *save = NULL;
	unsigned long long start = 0;
	int i, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	stat[n] = '\0';
	/* fields from the 3rd on follow the last ')': the command name may hold anything */
	p = strrchr(stat, ')');
	if (!p)
		return 0;
	p = strtok_r(p + 1, " ", &save);
	if (!p || *p == 'Z' || *p == 'X')
		return 0;
	for (i = 4; i <= 22 && p; i++)
		p = strtok_r(NULL, " ", &save);	/* field i */
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

bool tcpstat_writer_alive(const struct tcpstat *t)
{
	return t->pid && t->pid_start && tcpstat_proc_start((pid_t)t->pid) == t->pid_start;
}
