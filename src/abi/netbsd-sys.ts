/*
 * C declarations of the NetBSD-flavoured subsystems (pool(9), pool_cache(9),
 * modules, sysctl, exec, uvmexp), laid out by the ctf layer for the kernel's
 * data model and written into unix.N so mdb reads the same layouts.
 *
 * struct pool follows the field order of the report's `print *pp` (NetBSD
 * subr_pool.c rev 1.205 era), so on LP64 `pr_alloc_list` sits at 0x80 as in
 * the report's `disass pool_destroy` (0x80(%rbx) = tqe_next, 0x88 = tqe_prev).
 * sysctlnode follows sys/sysctl.h: the child array fields (sysctl_csize,
 * sysctl_clen, sysctl_child) share a union with the data fields, reached
 * through anonymous members as NetBSD's macros do.
 */

import { declare } from '../ctf/cparse.js';
import type { TypeTable } from '../ctf/ctf.js';

export const NETBSD_TYPES = `
typedef struct kmutex { uintptr_t mtxa_owner; } kmutex_t;
typedef struct kcondvar { void *cv_opaque[3]; } kcondvar_t;
struct timeval { long tv_sec; long tv_usec; };

struct pool;
struct pool_cache;
struct pool_item_header;
struct module;
struct sysctlnode;

struct pool_item {
	unsigned int pi_magic;
	struct pool_item *pi_next;	/* LIST_ENTRY(pool_item) pi_list (le_next) */
	struct pool_item **pi_prev;	/* (le_prev) */
};

struct pool_item_header {
	struct pool_item_header *ph_next;	/* LIST_ENTRY ph_pagelist: le_next */
	struct pool_item_header **ph_prevp;	/* le_prev */
	struct pool_item_header *ph_left;	/* SPLAY_ENTRY ph_node: spe_left */
	struct pool_item_header *ph_right;	/* spe_right */
	void *ph_page;
	unsigned int ph_time;
	unsigned short ph_nmissing;
	unsigned short ph_off;
	struct pool_item *ph_itemlist;		/* LIST_HEAD: lh_first */
};

struct pool_pagelist { struct pool_item_header *lh_first; };
struct pool_tqe { struct pool *tqe_next; struct pool **tqe_prev; };
struct pool_tqh { struct pool *tqh_first; struct pool **tqh_last; };
struct phtree { struct pool_item_header *sph_root; };

struct pool_allocator {
	void *(*pa_alloc)(struct pool *, int);
	void (*pa_free)(struct pool *, void *);
	unsigned int pa_pagesz;
	kmutex_t pa_lock;
	struct pool_tqh pa_list;
	unsigned int pa_refcnt;
	int pa_pagemask;
	int pa_pageshift;
};

struct pool {
	struct pool_tqe pr_poollist;
	struct pool_pagelist pr_emptypages;
	struct pool_pagelist pr_fullpages;
	struct pool_pagelist pr_partpages;
	struct pool_item_header *pr_curpage;
	struct pool *pr_phpool;
	struct pool_cache *pr_cache;
	unsigned int pr_size;
	unsigned int pr_align;
	unsigned int pr_itemoffset;
	unsigned int pr_minitems;
	unsigned int pr_minpages;
	unsigned int pr_maxpages;
	unsigned int pr_npages;
	unsigned int pr_itemsperpage;
	unsigned int pr_slack;
	unsigned int pr_nitems;
	unsigned int pr_nout;
	unsigned int pr_hardlimit;
	unsigned int pr_refcnt;
	struct pool_allocator *pr_alloc;
	struct pool_tqe pr_alloc_list;
	int (*pr_drain_hook)(void *, int);
	void *pr_drain_hook_arg;
	const char *pr_wchan;
	unsigned int pr_flags;
	unsigned int pr_roflags;
	kmutex_t pr_lock;
	kcondvar_t pr_cv;
	int pr_ipl;
	struct phtree pr_phtree;
	int pr_maxcolor;
	int pr_curcolor;
	int pr_phoffset;
	const char *pr_hardlimit_warning;
	struct timeval pr_hardlimit_ratecap;
	struct timeval pr_hardlimit_warning_last;
	unsigned long pr_nget;
	unsigned long pr_nfail;
	unsigned long pr_nput;
	unsigned long pr_npagealloc;
	unsigned long pr_npagefree;
	unsigned int pr_hiwat;
	unsigned long pr_nidle;
	void *pr_freecheck;
	void *pr_qcache;
	bool pr_redzone;
	size_t pr_reqsize;
};

struct pool_cache_tqe { struct pool_cache *tqe_next; struct pool_cache **tqe_prev; };
struct pool_cache_tqh { struct pool_cache *tqh_first; struct pool_cache **tqh_last; };

typedef struct pcg {
	struct pcg *pcg_next;
	unsigned int pcg_avail;
	unsigned int pcg_size;
	void *pcg_objects[15];
} pcg_t;

typedef struct pool_cache_cpu {
	pcg_t *cc_current;
	pcg_t *cc_previous;
	struct pool_cache *cc_cache;
	unsigned long cc_hits;
	unsigned long cc_misses;
	unsigned int cc_cpuindex;
} pool_cache_cpu_t;

struct pool_cache {
	struct pool pc_pool;
	kmutex_t pc_lock;
	pcg_t *pc_emptygroups;
	pcg_t *pc_fullgroups;
	pcg_t *pc_partgroups;
	struct pool *pc_pcgpool;
	unsigned int pc_pcgsize;
	int pc_ncpu;
	int (*pc_ctor)(void *, void *, int);
	void (*pc_dtor)(void *, void *);
	void *pc_arg;
	unsigned long pc_hits;
	unsigned long pc_misses;
	unsigned long pc_contended;
	unsigned int pc_nempty;
	unsigned int pc_nfull;
	unsigned int pc_refcnt;
	struct pool_cache_tqe pc_cachelist;
	pool_cache_cpu_t pc_cpu0;
	void *pc_cpus[8];
};

typedef int modcmd_t;
typedef int modclass_t;
typedef int modsrc_t;

typedef struct modinfo {
	unsigned int mi_version;
	modclass_t mi_class;
	int (*mi_modcmd)(modcmd_t, void *);
	const char *mi_name;
	const char *mi_required;
} modinfo_t;

struct kobj {
	char ko_name[32];
	uintptr_t ko_address;		/* the one module_map chunk: text, data, bss */
	size_t ko_size;
	uintptr_t ko_text_address;
	size_t ko_text_size;
	uintptr_t ko_data_address;
	size_t ko_data_size;
	int ko_loaded;
};

struct module_tqe { struct module *tqe_next; struct module **tqe_prev; };
struct module_tqh { struct module *tqh_first; struct module **tqh_last; };

typedef struct module {
	unsigned int mod_refcnt;
	int mod_flags;
	struct module_tqe mod_list;	/* module_list linkage (NetBSD: mod_chain) */
	struct module *mod_required[16];
	unsigned int mod_nrequired;
	modsrc_t mod_source;
	time_t mod_autotime;
	const modinfo_t *mod_info;
	struct kobj *mod_kobj;
	uintptr_t mod_address;		/* copy of the kobj chunk, for quick display */
	size_t mod_size;
} module_t;

typedef int (*sysctlfn)(const int *, unsigned int, void *, size_t *, const void *, size_t, const int *, void *, const struct sysctlnode *);

struct sysctlnode {
	uint32_t sysctl_flags;
	int32_t sysctl_num;
	char sysctl_name[32];
	uint32_t sysctl_ver;
	uint32_t __rsvd;
	union {
		struct {
			uint32_t sysctl_csize;
			uint32_t sysctl_clen;
			struct sysctlnode *sysctl_child;
		};
		struct {
			void *sysctl_data;
			size_t sysctl_offset;
		};
		int32_t sysctl_alias;
		int32_t sysctl_idata;
		uint64_t sysctl_qdata;
		bool sysctl_bdata;
	};
	size_t sysctl_size;
	sysctlfn sysctl_func;
	struct sysctlnode *sysctl_parent;
	const char *sysctl_desc;
};

struct sysctllog {
	const struct sysctlnode *log_root;
	int *log_num;
	int log_size;
	int log_left;
};

struct timespec { time_t tv_sec; long tv_nsec; };

struct uvmexp {
	int pagesize;
	int npages;
	int free;
	int freemin;
	int freetarg;
	int wired;
	int anonpages;
	int pdwoke;
	int pdrevs;
	int pdfreed;
};

struct execsw_entry {
	const char *es_name;
	int es_format;
	unsigned int es_refcnt;		/* processes running this format */
	const char *es_modname;
};
`;

export function declareNetbsdTypes(tt: TypeTable): void {
  if (tt.find('struct pool') !== undefined) return;
  declare(tt, NETBSD_TYPES);
}

/* ------------------------------------------------------------ constants */

/* pool(9) */
export const PR_NOWAIT = 0x00;
export const PR_WAITOK = 0x01;
export const PR_WANTED = 0x02;
export const PR_PHINPAGE = 0x40;
export const PR_LIMITFAIL = 0x80;
export const PR_RECURSIVE = 0x200;
export const PR_NOTOUCH = 0x400;
export const PR_NOALIGN = 0x800;
export const PR_LARGECACHE = 0x1000;
export const PI_MAGIC = 0xdeaddead;
export const IPL_NONE = 0;
export const IPL_VM = 6;

/* modules */
export const MODULE_CMD_INIT = 0;
export const MODULE_CMD_FINI = 1;
export const MODULE_CMD_STAT = 2;
export const MODULE_CMD_AUTOUNLOAD = 3;
export const MODULE_CLASS_ANY = 0;
export const MODULE_CLASS_MISC = 1;
export const MODULE_CLASS_VFS = 2;
export const MODULE_CLASS_DRIVER = 3;
export const MODULE_CLASS_EXEC = 4;
export const MODULE_CLASS_SECMODEL = 5;
export const MODULE_SOURCE_KERNEL = 0;
export const MODULE_SOURCE_BOOT = 1;
export const MODULE_SOURCE_FILESYS = 2;
export const MODFLG_MUST_FORCE = 0x01;
export const MODFLG_AUTO_LOADED = 0x02;
export const MAXMODDEPS = 16;
export const MODULE_MAX_DEPTH = 6;

/* errno */
export const EPERM = 1;
export const ENOENT = 2;
export const ENOEXEC = 8;
export const ENOMEM = 12;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENOTDIR = 20;
export const EINVAL = 22;
export const ENOTTY = 25;
export const EMLINK = 31;
export const EDEADLK = 11;
export const ENOTEMPTY = 66;

/* sysctl */
export const CTL_EOL = -1;
export const CTL_QUERY = -2;
export const CTL_CREATE = -3;
export const CTL_CREATESYM = -4;
export const CTL_DESTROY = -5;
export const CREATE_BASE = 1024;
export const SYSCTL_DEFSIZE = 8;
export const CTL_MAXNAME = 12;
export const SYSCTL_NAMELEN = 32;
export const SYSCTL_VERSION = 0x1000000;
export const SYSCTL_VERS_MASK = 0xff000000;
export const SYSCTL_TYPEMASK = 0x0000000f;
export const SYSCTL_FLAGMASK = 0x00fffff0;
export const CTLTYPE_NODE = 1;
export const CTLTYPE_INT = 2;
export const CTLTYPE_STRING = 3;
export const CTLTYPE_QUAD = 4;
export const CTLTYPE_STRUCT = 5;
export const CTLTYPE_BOOL = 6;
export const CTLFLAG_READONLY = 0x00000000;
export const CTLFLAG_READWRITE = 0x00000070;
export const CTLFLAG_PERMANENT = 0x00000200;
export const CTLFLAG_OWNDATA = 0x00000400;
export const CTLFLAG_IMMEDIATE = 0x00000800;
export const CTLFLAG_ROOT = 0x00002000;
export const CTLFLAG_ANYNUMBER = 0x00004000;
export const CTLFLAG_ALIAS = 0x00010000;
export const CTLFLAG_OWNDESC = 0x00040000;

export const CTL_KERN = 1;
export const CTL_VM = 2;
export const CTL_HW = 6;
export const KERN_OSTYPE = 1;
export const KERN_OSRELEASE = 2;
export const KERN_OSREVISION = 3;
export const KERN_VERSION = 4;
export const KERN_MAXVNODES = 5;
export const KERN_MAXPROC = 6;
export const KERN_MAXFILES = 7;
export const KERN_ARGMAX = 8;
export const KERN_HOSTNAME = 10;
export const KERN_CLOCKRATE = 12;
export const KERN_OLDSYSVMSG = 33;
export const KERN_OLDSYSVSEM = 34;
export const KERN_OLDSYSVSHM = 35;
export const KERN_POSIX_SEMAPHORES = 67;
export const KERN_SYSVIPC = 82;
export const KERN_BOOTTIME = 83;
export const KERN_EVCNT = 84;
export const KERN_SOFIXEDBUF = 85;
export const KERN_SYSVIPC_INFO = 1;
export const KERN_SYSVIPC_SHMMAX = 7;
export const KERN_SYSVIPC_SHMMNI = 8;
export const KERN_SYSVIPC_SHMSEG = 9;
export const KERN_SYSVIPC_SHMMAXPGS = 10;
export const KERN_SYSVIPC_SHM_USE_PHYS = 11;
