package browser

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/inspector"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"

	"github.com/loiret/borne/operators"
)

// follow watches the call's page until ctx ends or it has a verdict. The
// verdict goes out before the DevTools connection is taken down: that can
// wait on a browser that no longer answers, and the call's end must not.
func follow(ctx context.Context, c *call) {
	var undo []func()
	v, ok := watch(ctx, c, &undo)
	if ok {
		c.decide(v)
	}
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
}

// watch connects to the browser, attaches to the visio's page without
// ever closing it (a detach leaves the tab), and turns what the page does
// into a verdict. ok is false when ctx ended first.
func watch(ctx context.Context, c *call, undo *[]func()) (v verdict, ok bool) {
	o := c.s.o
	startCtx, cancelStart := context.WithTimeout(ctx, o.StartTimeout)
	defer cancelStart()
	ws, err := devToolsURL(startCtx, c.dir)
	if err != nil {
		return failed(ctx, ErrNoDevTool, "no DevTools port: "+err.Error())
	}
	actx, cancelAlloc := remote.NewAllocator(ctx, ws, remote.NoModifyURL)
	*undo = append(*undo, cancelAlloc)
	// chromedp's own words go to the shell's log, never to the terminal
	// the kiosk's screen is drawn on.
	logf := func(level slog.Level) func(string, ...any) {
		return func(format string, args ...any) { c.log.Log(ctx, level, "devtools: "+fmt.Sprintf(format, args...)) }
	}
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(logf(slog.LevelDebug)), chromedp.WithErrorf(logf(slog.LevelDebug)))
	*undo = append(*undo, cancelBrowser)
	// The first use of bctx connects: with bctx itself, so that the
	// connection lasts as long as the call.
	p := &pageState{c: c, verdicts: make(chan verdict, 1), back: make(chan struct{}, 1)}
	if err := chromedp.ListenBrowser(bctx, p.browserEvent); err != nil {
		return failed(ctx, ErrNoDevTool, "browser events: "+err.Error())
	}
	id, err := pageTarget(startCtx, bctx)
	if err != nil {
		return failed(ctx, ErrNoDevTool, "no page: "+err.Error())
	}
	p.id.Store(id)
	if _, err := cdp.Call(startCtx, chromedp.FromContext(bctx).Browser, target.SetDiscoverTargets, target.SetDiscoverTargetsParams{Discover: true}); err != nil {
		return failed(ctx, ErrNoDevTool, "target discovery: "+err.Error())
	}
	tctx, cancelTarget := chromedp.NewContext(bctx, chromedp.WithTargetID(id), chromedp.WithDetachOnCancel(), chromedp.WithListener(p.pageEvent))
	*undo = append(*undo, cancelTarget)
	// The first run on tctx attaches, with tctx itself, for the same
	// reason; a renderer stuck in a script never lets the attach finish.
	load := time.NewTimer(o.LoadTimeout)
	defer load.Stop()
	attached := make(chan error, 1)
	go func() { attached <- chromedp.Do(tctx, chromedp.Func(p.init)) }()
	select {
	case err = <-attached:
	case v := <-p.verdicts:
		return v, true
	case <-ctx.Done():
		return verdict{}, false
	case <-load.C:
		return verdict{err: ErrNoLoad, why: fmt.Sprintf("the partner's page did not load within %v", o.LoadTimeout)}, true
	case <-time.After(o.HangTimeout):
		return verdict{err: ErrHung, why: fmt.Sprintf("the page did not answer the attach within %v", o.HangTimeout)}, true
	}
	if err != nil {
		return failed(ctx, ErrNoDevTool, "attach: "+err.Error())
	}
	v, ok = p.loop(ctx, tctx, load)
	if ok {
		closeBrowser(bctx)
	}
	return v, ok
}

// closeBrowser asks the browser to close at once, its verdict given: the
// runner's stop then finds it going, and the call ends sooner.
func closeBrowser(bctx context.Context) {
	ctx, cancel := context.WithTimeout(bctx, 500*time.Millisecond)
	defer cancel()
	cdp.Call(ctx, chromedp.FromContext(bctx).Browser, browser.Close, cdp.Empty{})
}

// failed is a verdict of err, unless ctx ended: the call ended anyway.
func failed(ctx context.Context, err error, why string) (verdict, bool) {
	if ctx.Err() != nil {
		return verdict{}, false
	}
	return verdict{err: err, why: why}, true
}

// devToolsURL waits for the browser to write its DevTools port and path in
// the profile, and makes the browser's loopback websocket address of them.
func devToolsURL(ctx context.Context, dir string) (string, error) {
	f := filepath.Join(dir, "DevToolsActivePort")
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(f); err == nil {
			port, path, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
			if ok && port != "" && strings.HasPrefix(path, "/devtools/browser/") {
				return "ws://127.0.0.1:" + port + strings.TrimSpace(path), nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s not written: %w", f, ctx.Err())
		case <-t.C:
		}
	}
}

// pageTarget waits for the app window's page.
func pageTarget(ctx, bctx context.Context) (target.ID, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		infos, err := targets(ctx, bctx)
		if err == nil {
			for _, i := range infos {
				if i.Type == "page" {
					return i.TargetID, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return "", err
		case <-t.C:
		}
	}
}

// targets lists the browser's targets within ctx's deadline.
func targets(ctx, bctx context.Context) ([]*target.Info, error) {
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		bctx, cancel = context.WithDeadline(bctx, d)
		defer cancel()
	}
	return chromedp.Targets(bctx)
}

// pageState follows one page.
type pageState struct {
	c         *call
	id        atomic.Value // target.ID of the page
	main      atomic.Value // cdp.FrameID of the main frame
	loaded    atomic.Bool  // the partner's page loaded once
	committed atomic.Bool  // a real document is in the main frame
	verdicts  chan verdict
	back      chan struct{} // a navigation off the partner's site was blocked
}

func (p *pageState) say(v verdict) {
	select {
	case p.verdicts <- v:
	default:
	}
}

// init runs once attached: it learns the main frame, and whether the
// page loaded before anyone listened.
func (p *pageState) init(ctx context.Context, t *chromedp.Target) error {
	tree, err := cdp.Call(ctx, t, page.GetFrameTree, cdp.Empty{})
	if err != nil {
		return err
	}
	p.main.Store(tree.FrameTree.Frame.ID)
	// The document's own address: a tab opened on a page that has not
	// answered yet shows its address in the frame tree, but holds the
	// initial empty document, about:blank.
	yes := true
	res, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{
		Expression: `location.href !== "about:blank" && document.readyState !== "loading"`, ReturnByValue: &yes})
	if err != nil {
		return err
	}
	if res.Result == nil || string(res.Result.Value) != "true" {
		return nil // its navigation events are still to come
	}
	f := tree.FrameTree.Frame
	p.navigated(f.URL+f.URLFragment, f.UnreachableURL)
	if f.UnreachableURL == "" {
		p.loaded.Store(true)
	}
	return nil
}

func (p *pageState) isMain(id cdp.FrameID) bool {
	m, _ := p.main.Load().(cdp.FrameID)
	return m == "" || m == id
}

// pageEvent runs on chromedp's reader: it only looks and says, never
// calls the browser.
func (p *pageState) pageEvent(ev any) {
	switch ev := ev.(type) {
	case *page.EventFrameNavigated:
		if ev.Frame.ParentID == "" {
			p.main.Store(ev.Frame.ID)
			p.navigated(ev.Frame.URL+ev.Frame.URLFragment, ev.Frame.UnreachableURL)
		}
	case *page.EventNavigatedWithinDocument:
		if p.isMain(ev.FrameID) {
			p.navigated(ev.URL, "")
		}
	case *page.EventDomContentEventFired, *page.EventLoadEventFired:
		if p.committed.Load() {
			p.loaded.Store(true)
		}
	case *inspector.EventTargetCrashed:
		p.say(verdict{err: ErrCrashed, why: "the page's renderer crashed"})
	}
}

// navigated judges a main-frame navigation.
func (p *pageState) navigated(url, unreachable string) {
	if unreachable == "" && !strings.HasPrefix(url, "about:") {
		p.committed.Store(true)
	}
	switch {
	case p.c.op.IsEnd(url):
		p.say(verdict{why: "the page reached its end address " + url})
	case unreachable != "" && !p.loaded.Load() && sameOrigin(unreachable, p.c.op.VisioURL):
		p.say(verdict{err: ErrNoLoad, why: "the partner's page could not be loaded: " + unreachable})
	case unreachable != "":
		// The policy blocked it; an app window has no Back button, so
		// the shell takes the citizen back to the partner's page.
		p.c.log.Warn("the page was kept from leaving the partner's site", "to", unreachable)
		select {
		case p.back <- struct{}{}:
		default:
		}
	}
}

func sameOrigin(a, b string) bool {
	oa, err1 := operators.Origin(a)
	ob, err2 := operators.Origin(b)
	return err1 == nil && err2 == nil && oa == ob
}

// browserEvent sees the page's window close and its crashes.
func (p *pageState) browserEvent(ev any) {
	id, _ := p.id.Load().(target.ID)
	switch ev := ev.(type) {
	case *target.EventTargetDestroyed:
		if ev.TargetID == id {
			p.say(verdict{why: "the page closed its window"})
		}
	case *target.EventTargetCrashed:
		if ev.TargetID == id {
			p.say(verdict{err: ErrCrashed, why: fmt.Sprintf("the page's renderer crashed (%s, status %d)", ev.Status, ev.ErrorCode)})
		}
	}
}

// loop pings the page and waits for a verdict, the end of the
// connection, or the first load's deadline.
func (p *pageState) loop(ctx, tctx context.Context, load *time.Timer) (verdict, bool) {
	o := p.c.s.o
	lost := chromedp.FromContext(tctx).Browser.LostConnection
	ping := time.NewTicker(o.PingEvery)
	defer ping.Stop()
	pings := make(chan error, 1)
	pinging := false
	var lastAnswer = time.Now()
	for {
		select {
		case <-ctx.Done():
			return verdict{}, false
		case v := <-p.verdicts:
			return v, true
		case <-lost:
			select {
			case v := <-p.verdicts:
				return v, true
			case <-time.After(200 * time.Millisecond):
			}
			return failed(ctx, ErrCrashed, "the browser closed its DevTools connection")
		case <-load.C:
			if !p.loaded.Load() {
				return verdict{err: ErrNoLoad, why: fmt.Sprintf("the partner's page did not load within %v", o.LoadTimeout)}, true
			}
		case <-p.back:
			go p.goBack(tctx)
		case err := <-pings:
			pinging = false
			if err == nil {
				lastAnswer = time.Now()
			}
		case <-ping.C:
			if time.Since(lastAnswer) > o.HangTimeout {
				return verdict{err: ErrHung, why: fmt.Sprintf("the page answered no ping for %v", o.HangTimeout)}, true
			}
			if !pinging {
				pinging = true
				go func() { pings <- p.ping(tctx, o.HangTimeout) }()
			}
		}
	}
}

// ping asks the page's renderer for 1: a renderer stuck in a script
// never answers.
func (p *pageState) ping(tctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(tctx, within)
	defer cancel()
	t := chromedp.FromContext(tctx).Target
	_, err := cdp.Call(ctx, t, runtime.Evaluate, runtime.EvaluateParams{Expression: "1"})
	if err != nil {
		p.c.log.Debug("ping unanswered", "err", err)
	}
	return err
}

// goBack returns the page to the entry before the blocked one. Right
// after the blocked navigation the page may be between documents and
// refuse ("Not attached to an active page"): it is asked again.
func (p *pageState) goBack(tctx context.Context) {
	ctx, cancel := context.WithTimeout(tctx, 5*time.Second)
	defer cancel()
	t := chromedp.FromContext(tctx).Target
	var err error
	for try := 0; try < 10; try++ {
		if err = p.back1(ctx, t); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		p.c.log.Warn("the page could not be taken back to the partner's site", "err", err)
	}
}

func (p *pageState) back1(ctx context.Context, t *chromedp.Target) error {
	h, err := cdp.Call(ctx, t, page.GetNavigationHistory, cdp.Empty{})
	switch {
	case err != nil:
	case h.CurrentIndex > 0:
		_, err = cdp.Call(ctx, t, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: h.Entries[h.CurrentIndex-1].ID})
	default:
		_, err = cdp.Call(ctx, t, page.Navigate, page.NavigateParams{URL: p.c.op.VisioURL})
	}
	return err
}
