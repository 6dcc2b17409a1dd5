package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmirror/kmirror/internal/config"
	"github.com/kmirror/kmirror/internal/journal"
	"github.com/kmirror/kmirror/internal/migrate"
)

func handBackCmd(g *globals) *cobra.Command {
	var cf configFlags
	var cn connectFlags
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "hand-back -c FILE [--dry-run] [--json]",
		Short: "Hand the flows back to MirrorMaker 2: write its source positions and offset syncs, so that MM2 started on the same configuration copies on without copying a record again (exit 0 done, 1 refused)",
		Long: `hand-back is the way back from kmirror to MirrorMaker 2. With every kmirror worker
of the configuration's flows stopped, it writes, for every source partition kmirror
copied:

  - MM2's source position, in the Connect offsets topic MM2 started on the same
    configuration reads (the target's offset.storage.topic when set; else
    mm2-offsets.<source>.internal for an MM2 properties file, dedicated mode, or
    mirrormaker2-cluster-offsets for a Strimzi resource), in Connect's own format,
    creating the topic as Connect would when it is missing;
  - an MM2-format offset sync of the last record copied, into the offset-syncs topic
    (and into the source's too when offset-syncs.topic.location is unset: MM2 reads
    them there by default);

then one round of checkpoints for the flow's groups, when the flow emits them. MM2
then resumes each partition at the record after kmirror's last copy.

It refuses (exit 1) while a kmirror worker is a member of a flow's workers' group,
naming them, and while a flow's offset-syncs topic still holds an older kmirror's
offset-map records, which MM2 cannot read. --dry-run prints what it would write
without writing; --json prints the same as JSON (the schema is in docs/cli.md).
'kmirror preflight --hand-back' checks the permissions it needs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, logger, err := connected(ctx, g, &cf, &cn)
			if err != nil {
				return err
			}
			hb, err := migrate.HandBackTo(ctx, cfg, dryRun, logger)
			if err != nil {
				return &exitError{code: ExitFailure, err: err}
			}
			journal.Note(ctx, cfg, logger, hb.Events(time.Now(), journal.By("kmirror migrate hand-back"))...)
			if asJSON {
				if err := writeJSON(g.stdout, hb); err != nil {
					return err
				}
			} else {
				printHandBack(g.stdout, hb)
			}
			if len(hb.Reasons) > 0 {
				return &exitError{code: ExitFailure}
			}
			return nil
		},
	}
	cf.register(cmd)
	cn.register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what it would write without writing it")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print what it wrote as JSON")
	return cmd
}

func printHandBack(w io.Writer, hb migrate.HandBack) {
	if len(hb.Reasons) > 0 {
		fmt.Fprintln(w, "REFUSED: nothing written; MirrorMaker 2 cannot take the flows back yet")
		for _, r := range hb.Reasons {
			fmt.Fprintf(w, "  - %s\n", r)
		}
		return
	}
	written := "wrote"
	if hb.DryRun {
		written = "would write (dry run: nothing written)"
	}
	partitions := 0
	for _, f := range hb.Flows {
		fmt.Fprintf(w, "flow %s: %s MM2's positions to %q (connector %q) and offset syncs to %q on %q\n",
			f.Flow, written, f.OffsetsTopic, f.Connector, f.SyncsTopic, f.SyncsCluster)
		if f.MM2SyncsTopic != "" {
			fmt.Fprintf(w, "  and to %q on %q, where MM2 reads them (%s is unset: MM2's default is the source)\n", f.MM2SyncsTopic, f.MM2SyncsCluster, config.KeyOffsetSyncsLocation)
		}
		if f.CreateOffsetsTopic {
			fmt.Fprintf(w, "  %q was missing: created as Connect creates it (compacted, 25 partitions)\n", f.OffsetsTopic)
		}
		for _, p := range f.Partitions {
			sync := "no record copied: no sync"
			if p.LastSync != nil {
				sync = fmt.Sprintf("last sync %d → %d", p.LastSync.Upstream, p.LastSync.Downstream)
			}
			fmt.Fprintf(w, "  %s[%d]: MM2 resumes at %d; %s\n", p.Topic, p.Partition, p.Resume, sync)
		}
		if f.CheckpointsTopic != "" && !hb.DryRun {
			fmt.Fprintf(w, "  %d checkpoints written to %q\n", f.Checkpoints, f.CheckpointsTopic)
		}
		partitions += len(f.Partitions)
	}
	if hb.DryRun {
		fmt.Fprintf(w, "%d partitions of %d flows ready to hand back to MirrorMaker 2\n", partitions, len(hb.Flows))
		return
	}
	fmt.Fprintf(w, "HANDED BACK: %d partitions of %d flows; start MirrorMaker 2 on the same configuration: it copies on from there\n", partitions, len(hb.Flows))
}
