/*
 * C declarations of the kernel's module list, after illumos' sys/modctl.h
 * and the part of krtld's module object (kobj_impl.h) mdb reads.  They are
 * laid out by the ctf layer for the kernel's data model and written into
 * unix.N, so mdb reads the same layouts (::modinfo, ::modctl, the modctl
 * walker).
 *
 * `modules` is itself the first modctl (unix, id 0) and the head of the
 * circular mod_next/mod_prev list, as in illumos.  krtld's object is
 * illumos' `struct module`; it is declared here as `struct krtld_module`
 * because the NetBSD personality's kern_module.c owns `struct module`
 * (src/abi/netbsd-sys.ts) in the same type table.
 */

export const KERNEL_MODULE_TYPES = `
struct modctl;

/* one requisite (mod_requisites) */
struct modctl_list {
	struct modctl_list *modl_next;
	struct modctl *modl_modp;
};

/* what a module's _info hands mod_install: its revision and linkage structures */
struct modlinkage {
	int ml_rev;
	void *ml_linkage[7];
};

/* the linkage of a miscellaneous module: its ops and a one-line description */
struct modlmisc {
	void *misc_modops;
	const char *misc_linkinfo;
};

/* krtld's object of a loaded module: where its text and data are */
struct krtld_module {
	int total_allocated;
	char *text;
	char *data;
	size_t text_size;
	size_t data_size;
	char *filename;
};

typedef struct modctl {
	struct modctl *mod_next;	/* &modules based list */
	struct modctl *mod_prev;
	int mod_id;
	void *mod_mp;		/* its struct krtld_module while loaded */
	kthread_t *mod_inprogress_thread;
	void *mod_modinfo;
	struct modlinkage *mod_linkage;
	char *mod_filename;
	char *mod_modname;
	char mod_busy;		/* mod_inprogress_thread has it locked */
	char mod_want;
	char mod_prim;		/* primary module (unix, genunix) */
	int mod_ref;		/* references from dependents */
	char mod_loaded;	/* in memory */
	char mod_installed;	/* after _init, before _fini */
	char mod_loadflags;
	char mod_delay_unload;
	struct modctl_list *mod_requisites;
	void *__unused;
	int mod_loadcnt;	/* times loaded */
	int mod_nenabled;
	char *mod_text;		/* copies of the module object's text and size */
	size_t mod_text_size;
	int mod_gencount;	/* times loaded or unloaded */
	struct modctl *mod_requisite_loading;
} modctl_t;
`;

/* mod_loadflags */
export const MOD_NOAUTOUNLOAD = 0x1;

/* modlinkage.ml_rev of every module of this kernel */
export const MODREV_1 = 1;
