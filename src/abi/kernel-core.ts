/*
 * C declarations of the kernel core's structures.  They are laid out by the
 * ctf layer for the kernel's data model and written into unix.N, so mdb
 * reads the same layouts.
 */

export const KERNEL_CORE_TYPES = `
typedef struct kthread kthread_t;
typedef struct cpu cpu_t;

/* saved registers of a switched-out or panicking thread */
typedef struct label {
	uintptr_t val[2];	/* [0] = pc, [1] = sp */
} label_t;

struct kthread {
	struct kthread *t_link;
	caddr_t t_stk;		/* top of stack (highest address) */
	caddr_t t_stkbase;	/* base of stack (lowest address) */
	label_t t_pcb;		/* saved pc and sp */
	uintptr_t t_fp;		/* saved frame pointer */
	int t_tid;		/* thread id (the LWP id for an LWP's thread) */
	unsigned short t_state;	/* TS_* */
	unsigned short t_flag;	/* T_* */
	unsigned int t_proc_flag;	/* TP_* */
	unsigned short t_schedflag;	/* TS_LOAD ... */
	short t_pri;		/* assigned priority */
	short t_epri;		/* inherited priority */
	short t_pil;		/* interrupt priority level */
	struct kthread *t_intr;	/* interrupted thread, if an interrupt thread */
	struct cpu *t_cpu;
	struct kthread *t_next;	/* all threads, circular */
	struct kthread *t_prev;
	struct kthread *t_forw;	/* the process's threads, circular */
	struct kthread *t_back;
	void *t_startpc;	/* the function the thread started in */
	struct proc *t_procp;	/* the process it belongs to (p0 for kernel threads) */
	struct _klwp *t_lwp;	/* its LWP, NULL for a kernel thread */
	struct cred *t_cred;
	struct turnstile *t_ts;	/* the turnstile it brings to a blocking */
	struct turnstile *t_prioinv;
	caddr_t t_wchan;	/* what a sleeping thread waits on */
	unsigned short t_delay_cv;	/* kcondvar_t delay() sleeps on */
	struct sobj_ops *t_sobj_ops;	/* the type of that object */
	long t_disp_time;	/* lbolt when last switched out */
	int t_bind_cpu;		/* -1: not bound */
	char t_preempt;
	char t_name[32];
};

/* a synchronization object type: mdb's ::stacks names it (SOBJ_*) */
typedef struct sobj_ops {
	int sobj_type;
	void *sobj_owner;
	void *sobj_unsleep;
	void *sobj_change_pri;
} sobj_ops_t;

/* every thread brings one to a blocking on a lock (turnstile_cache) */
typedef struct turnstile {
	struct turnstile *ts_next;	/* next on the hash chain */
	struct turnstile *ts_free;	/* free list */
	void *ts_sobj;		/* the object blocked on */
	int ts_waiters;
	short ts_epri;
	struct kthread *ts_inheritor;
	struct turnstile *ts_prioinv;
} turnstile_t;

typedef struct cred {
	unsigned int cr_ref;	/* reference count */
	int cr_uid;
	int cr_gid;
	int cr_ruid;
	int cr_rgid;
	int cr_suid;
	int cr_sgid;
	unsigned int cr_ngroups;
} cred_t;

/* an LWP: the user-visible side of a process's thread (lwp_cache) */
typedef struct _klwp {
	struct kthread *lwp_thread;
	struct proc *lwp_procp;
	caddr_t lwp_regs;	/* user registers, on the thread's stack */
	int lwp_cursig;
	char lwp_asleep;
	char lwp_eosys;
	uintptr_t lwp_ap;	/* system call arguments */
	long lwp_errno;
	hrtime_t lwp_mstate_start;
} klwp_t;

/* a process id (kmem_zalloc'ed by pid_assign) */
struct pid {
	unsigned int pid_prinactive;
	int pid_id;
	unsigned int pid_prslot;
	struct pid *pid_link;	/* hash chain */
	unsigned int pid_ref;
};

typedef struct sess {
	unsigned int s_ref;
	struct pid *s_sidp;	/* session id */
} sess_t;

typedef struct timestruc {
	long tv_sec;
	long tv_nsec;
} timestruc_t;

typedef struct user {
	timestruc_t u_start;	/* when the process started */
	long u_ticks;		/* lbolt at start */
	char u_comm[17];	/* MAXCOMLEN + 1 */
	char u_psargs[80];	/* PSARGSZ: the arguments ps shows */
	int u_argc;
	uintptr_t u_argv;
} user_t;

typedef struct proc {
	struct cred *p_cred;	/* process credentials */
	char p_stat;		/* SSLEEP, SRUN, ... */
	char p_wcode;
	unsigned short p_pidflag;
	int p_wdata;
	int p_ppid;		/* parent's pid */
	struct proc *p_link;
	struct proc *p_parent;	/* the parent */
	struct proc *p_child;	/* the youngest child */
	struct proc *p_sibling;	/* the next older sibling */
	struct proc *p_psibling;	/* the next younger sibling */
	struct proc *p_next;	/* practive: active processes, newest first */
	struct proc *p_prev;
	struct pid *p_pidp;
	struct pid *p_pgidp;	/* process group id */
	struct sess *p_sessp;
	unsigned int p_flag;	/* SSYS, SEXECED, ... */
	struct kthread *p_tlist;	/* its threads, along t_forw */
	int p_lwpcnt;
	int p_lwprcnt;
	int p_zombcnt;
	unsigned int p_lwpid;	/* the last LWP id given */
	hrtime_t p_mstart;
	user_t p_user;
} proc_t;

struct cpu {
	int cpu_id;
	int cpu_seqid;
	unsigned int cpu_flags;
	struct kthread *cpu_thread;
	struct kthread *cpu_idle_thread;
	struct cpu *cpu_next;
	struct cpu *cpu_prev;
	uint64_t cpu_intr_stats;
};

struct utsname {
	char sysname[65];
	char nodename[65];
	char release[65];
	char version[65];
	char machine[65];
};
`;

/* Thread states (illumos values). */
export const TS_FREE = 0x00;
export const TS_SLEEP = 0x01;
export const TS_RUN = 0x02;
export const TS_ONPROC = 0x04;
export const TS_ZOMB = 0x08;
export const TS_STOPPED = 0x10;
export const TS_WAIT = 0x20;

/* Synchronization object types (sobj_ops_t.sobj_type). */
export const SOBJ_NONE = 0;
export const SOBJ_MUTEX = 1;
export const SOBJ_RWLOCK = 2;
export const SOBJ_CV = 3;
export const SOBJ_SEMA = 4;
export const SOBJ_USER = 5;
export const SOBJ_USER_PI = 6;
export const SOBJ_SHUTTLE = 7;

/* Process states (proc_t.p_stat). */
export const SSLEEP = 1;
export const SRUN = 2;
export const SZOMB = 3;
export const SSTOP = 4;
export const SIDL = 5;
export const SONPROC = 6;
export const SWAIT = 7;

/* Process flags (proc_t.p_flag). */
export const SSYS = 0x00000001;
export const SEXECED = 0x00004000;
export const SNOWAIT = 0x00020000;
export const SMSACCT = 0x02000000;
export const SAUTOLPG = 0x08000000;
export const SMSFORK = 0x40000000;

/* Thread flags (kthread_t.t_flag) and scheduling flags (t_schedflag). */
export const T_TALLOCSTK = 0x0001;
export const TS_LOAD = 0x0001;
export const TS_DONT_SWAP = 0x0002;
