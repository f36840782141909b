package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ctrlab/ctrlab/pkg/image"
)

// imageCmds returns the image commands: pull, images, image (inspect, rm),
// load, save.
func imageCmds(app *App) []*cobra.Command {
	return []*cobra.Command{newPullCmd(app, nil), newImagesCmd(app, nil), newImageCmd(app),
		newLoadCmd(app, nil), newSaveCmd(app, nil)}
}

type imagesOptions struct {
	Root string
	JSON bool
}

func newImagesCmd(app *App, runF func(*imagesOptions) error) *cobra.Command {
	o := &imagesOptions{}
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List the images in the local store",
		Long: `List the images recorded in the store's index.json: one line per reference.

IMAGE ID is the digest of the image's config (the same image pulled from any
registry has the same ID); the manifest digest (--json: manifestDigest) is what
the registry calls it. SIZE is what is stored: the config plus the compressed
layers; layers shared by several images are stored once.
Equivalent to: jq .manifests ROOT/images/index.json`,
		Example: `  ctrlab images
  ctrlab images --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(o)
			}
			s, err := image.Open(rootOf(o.Root))
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			if o.JSON {
				return writeJSON(app.Out, list)
			}
			t := newTable(app.Out, "repository", "tag", "image id", "platform", "size", "layers")
			for _, im := range list {
				if err := t.row(im.Repository, im.Tag, shortDigest(im.ID), im.Platform, humanBytes(im.Size), im.Layers); err != nil {
					return err
				}
			}
			return t.render()
		},
	}
	addRootFlag(cmd, &o.Root)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print as JSON")
	return cmd
}

func newImageCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Inspect or remove a stored image",
		Long: `Work with one image of the local store. An image can be named by its reference
(alpine, 127.0.0.1:5000/busybox:latest, name@sha256:...), or by its image ID or a
prefix of it (see 'ctrlab images').`,
	}
	cmd.AddCommand(newImageInspectCmd(app, nil), newImageRmCmd(app, nil))
	return cmd
}

type imageRefOptions struct {
	Ref  string
	Root string
	JSON bool
}

func newImageInspectCmd(app *App, runF func(*imageRefOptions) error) *cobra.Command {
	o := &imageRefOptions{}
	cmd := &cobra.Command{
		Use:   "inspect REF",
		Short: "Show an image's config, layers and history",
		Long: `Show what a runtime reads from an image: the config (entrypoint + cmd = the
process to run, env, working directory, user, exposed ports), the layers (digest
of the compressed blob, diff ID of the uncompressed tar) and the history: one
build step per line, those that made a layer paired with it ("empty layer"
steps like ENV or CMD only changed the config).
Equivalent to: skopeo inspect --config oci:ROOT/images:REF`,
		Example: `  ctrlab image inspect busybox
  ctrlab image inspect --json ctrlab/self`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			if runF != nil {
				return runF(o)
			}
			s, err := image.Open(rootOf(o.Root))
			if err != nil {
				return err
			}
			info, err := s.Inspect(o.Ref)
			if err != nil {
				return err
			}
			if o.JSON {
				return writeJSON(app.Out, info)
			}
			return renderInspect(app, info)
		},
	}
	addRootFlag(cmd, &o.Root)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print as JSON")
	return cmd
}

func renderInspect(app *App, info *image.Info) error {
	w := app.Out
	c := info.Config
	fmt.Fprintf(w, "reference   %s\n", info.Reference)
	fmt.Fprintf(w, "image id    %s  (config digest)\n", info.ID)
	fmt.Fprintf(w, "manifest    %s  (%s)\n", info.ManifestDigest, shortMT(info.ManifestMediaType))
	if info.IndexDigest != "" {
		fmt.Fprintf(w, "index       %s\n", info.IndexDigest)
	}
	fmt.Fprintf(w, "platform    %s\n", info.Platform)
	if !info.Created.IsZero() {
		fmt.Fprintf(w, "created     %s\n", info.Created.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	fmt.Fprintf(w, "entrypoint  %s\n", quoteList(c.Entrypoint))
	fmt.Fprintf(w, "cmd         %s\n", quoteList(c.Cmd))
	fmt.Fprintf(w, "workdir     %s\n", orDash(c.WorkingDir))
	fmt.Fprintf(w, "user        %s\n", orDash(c.User))
	fmt.Fprintf(w, "ports       %s\n", orDash(strings.Join(c.ExposedPorts, " ")))
	for i, e := range c.Env {
		label := ""
		if i == 0 {
			label = "env"
		}
		fmt.Fprintf(w, "%-11s %s\n", label, e)
	}
	t := newTable(w, "#", "layer digest", "diff id", "size", "media type")
	for i, l := range info.Layers {
		if err := t.row(i+1, shortDigest(l.Digest), shortDigest(l.DiffID), humanBytes(l.Size), shortMT(l.MediaType)); err != nil {
			return err
		}
	}
	if err := t.render(); err != nil {
		return err
	}
	if len(info.History) > 0 {
		h := newTable(w, "layer", "created by")
		for _, e := range info.History {
			lay := "(config only)"
			if !e.EmptyLayer && e.LayerIndex >= 0 {
				lay = fmt.Sprintf("#%d %s", e.LayerIndex+1, shortDigest(e.Layer))
			}
			by := e.CreatedBy
			if len(by) > 70 {
				by = by[:67] + "..."
			}
			if err := h.row(lay, by); err != nil {
				return err
			}
		}
		return h.render()
	}
	return nil
}

func quoteList(s []string) string {
	if len(s) == 0 {
		return "-"
	}
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newImageRmCmd(app *App, runF func(*imageRefOptions) error) *cobra.Command {
	o := &imageRefOptions{}
	cmd := &cobra.Command{
		Use:     "rm REF",
		Aliases: []string{"remove"},
		Short:   "Remove an image and garbage-collect blobs no image uses",
		Long: `Remove the record of REF from the store's index.json, then garbage-collect:
every blob (manifest, config, layer) and every unpacked layer directory that no
remaining image reaches is deleted. Layers shared with another image stay.
Equivalent to: editing index.json, then rm ROOT/images/blobs/sha256/<unreferenced>`,
		Example: `  ctrlab image rm busybox
  ctrlab image rm 3f57d9401f8d`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			if runF != nil {
				return runF(o)
			}
			s, err := image.Open(rootOf(o.Root))
			if err != nil {
				return err
			}
			res, err := s.Remove(o.Ref)
			if err != nil {
				return err
			}
			if o.JSON {
				return writeJSON(app.Out, res)
			}
			fmt.Fprintf(app.Out, "untagged  %s\n", res.Reference)
			for _, b := range res.GC.Blobs {
				fmt.Fprintf(app.Out, "deleted   blob %s\n", b)
			}
			for _, d := range res.GC.LayerDirs {
				fmt.Fprintf(app.Out, "deleted   layer dir %s\n", d)
			}
			fmt.Fprintf(app.Out, "freed     %s of blobs\n", humanBytes(res.GC.BytesFreed))
			return nil
		},
	}
	addRootFlag(cmd, &o.Root)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print as JSON")
	return cmd
}

type loadOptions struct {
	Path     string
	Platform string
	Root     string
	JSON     bool
}

func newLoadCmd(app *App, runF func(*loadOptions) error) *cobra.Command {
	o := &loadOptions{}
	cmd := &cobra.Command{
		Use:   "load FILE|DIR",
		Short: "Load images from a docker-save tarball or an OCI layout directory (offline)",
		Long: `Load images with no network: from a tarball written by 'docker save' or
'ctrlab save', or from an OCI image layout directory (skopeo copy ... oci:DIR,
umoci). Blobs are verified and stored once, like a pull; from a multi-platform
index in a layout, this host's platform is chosen (or --platform).
Equivalent to: docker load -i FILE`,
		Example: `  ctrlab load busybox.tar
  ctrlab load ./oci-layout-dir`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Path = args[0]
			if runF != nil {
				return runF(o)
			}
			s, err := image.Open(rootOf(o.Root))
			if err != nil {
				return err
			}
			var opts []image.Option
			if o.Platform != "" {
				opts = append(opts, image.WithPlatform(o.Platform))
			}
			res, err := s.Load(cmd.Context(), o.Path, opts...)
			if err != nil {
				return err
			}
			if o.JSON {
				return writeJSON(app.Out, res)
			}
			t := newTable(app.Out, "loaded", "image id", "manifest digest", "layers")
			for _, r := range res {
				if err := t.row(r.Reference, shortDigest(r.ConfigDigest), shortDigest(r.ManifestDigest), len(r.Layers)); err != nil {
					return err
				}
			}
			return t.render()
		},
	}
	cmd.Flags().StringVar(&o.Platform, "platform", "", "platform to load from a multi-platform layout")
	addRootFlag(cmd, &o.Root)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print as JSON")
	return cmd
}

type saveOptions struct {
	Ref, File, Root string
	JSON            bool
}

func newSaveCmd(app *App, runF func(*saveOptions) error) *cobra.Command {
	o := &saveOptions{}
	cmd := &cobra.Command{
		Use:   "save REF FILE|DIR/",
		Short: "Save a stored image as a docker-save tarball or an OCI layout (for offline classrooms)",
		Long: `Write a stored image to FILE in the docker-save format (manifest.json, the
config, one blob per layer), loadable by 'ctrlab load', 'docker load' and
'podman load'. The file is written to a temporary name and renamed when complete.
When the target ends in "/" (or is an empty directory), write an OCI image
layout there instead (oci-layout, index.json, blobs/sha256/...), loadable by
'ctrlab load DIR' and 'skopeo copy oci:DIR ...'.
Equivalent to: docker save -o FILE REF`,
		Example: `  ctrlab save busybox busybox.tar
  ctrlab save busybox ./busybox-oci/`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref, o.File = args[0], args[1]
			if runF != nil {
				return runF(o)
			}
			s, err := image.Open(rootOf(o.Root))
			if err != nil {
				return err
			}
			res, err := s.Save(cmd.Context(), o.Ref, o.File)
			if err != nil {
				return err
			}
			if o.JSON {
				return writeJSON(app.Out, res)
			}
			fmt.Fprintf(app.Out, "saved %s (image id %s) to %s, %s\n", res.Reference, shortDigest(res.ID), res.File, humanBytes(res.Size))
			return nil
		},
	}
	addRootFlag(cmd, &o.Root)
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print as JSON")
	return cmd
}
