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
	int t_tid;
	unsigned short t_state;	/* TS_* */
	unsigned short t_flag;
	struct cpu *t_cpu;
	struct kthread *t_next;	/* all threads, circular */
	struct kthread *t_prev;
	void *t_startpc;
	char t_name[32];
};

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
