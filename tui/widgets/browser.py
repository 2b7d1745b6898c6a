"""The ZooKeeper browser: the tree under the root, loaded as it is expanded, and the
selected node's data and stat.

The tree source calls back from any thread (kazoo's, or the console's backend
worker) when a watched node or its children change; the callback only posts a
message, which is thread-safe, and changes are applied together a moment later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.highlighter import JSONHighlighter
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Label, Static, Tree
from textual.widgets.tree import TreeNode

from imgproc.core.errors import ImgprocError
from imgproc.core.ports import TreeSource
from imgproc.tui.text import moment, node_data
from imgproc.tui.widgets.dialogs import ConfirmScreen
from imgproc.tui.widgets.search import SearchScreen

FLUSH_S = 0.1


@dataclass
class Entry:
    """What a tree node stands for: a path, and whether its children were read."""

    path: str
    loaded: bool = False


def join(path: str, name: str) -> str:
    return f"{path.rstrip('/')}/{name}"


def entry(node: TreeNode[Entry]) -> Entry:
    """The node's entry: this screen makes every node of its tree with one."""
    if node.data is None:
        raise LookupError(f"tree node {node.label} carries no entry")
    return node.data


def name_of(node: TreeNode[Entry]) -> str:
    return entry(node).path.rsplit("/", 1)[1]


def describe_node(path: str, source: TreeSource) -> RenderableType:
    """The detail pane's content for ``path``."""
    try:
        data, stat = source.get(path)
    except ImgprocError as exc:
        return Text(f"{path}\n\n{exc}", style="yellow")
    kind, body = node_data(data)
    owner = (f"ephemeral, session 0x{stat.ephemeral_owner:x}" if stat.ephemeral_owner
             else "persistent")
    header = Text.assemble(
        (path, "bold"), "\n",
        ("version ", "dim"), str(stat.version), ("   children ", "dim"), str(stat.children), "\n",
        ("created ", "dim"), moment(stat.ctime), ("   modified ", "dim"), moment(stat.mtime), "\n",
        ("owner ", "dim"), owner, "\n",
        ("data ", "dim"), f"{kind}, {len(data)} bytes", "\n",
    )
    shown = Text(body, style="dim" if kind == "empty" else "")
    return Group(header, JSONHighlighter()(shown) if kind == "json" else shown)


class TreeBrowser(Screen):
    """Browse, search and (unless read-only) delete nodes of a :class:`TreeSource`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,z", "app.pop_screen", "Back"),
        Binding("slash", "search", "Search paths"),
        Binding("d", "delete", "Delete node"),
    ]

    class Changed(Message):
        """``path`` or one of its children changed in the source."""

        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    class DeleteConfirmed(Message):
        """The operator confirmed deleting ``path``; the app does it off the UI thread."""

        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    def __init__(self, source: TreeSource, read_only: bool = False) -> None:
        super().__init__()
        self.source = source
        self.read_only = read_only
        self.nodes: dict[str, TreeNode[Entry]] = {}
        self._watched: set[str] = set()
        self._dirty: set[str] = set()
        self._flush_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        title = f"ZooKeeper tree under {self.source.root}"
        yield Label(title + ("   READ-ONLY: delete is disabled" if self.read_only else ""),
                    id="zk-title")
        with Horizontal():
            yield Tree(self.source.root, data=Entry(self.source.root), id="zk-tree")
            with VerticalScroll(id="zk-detail"):
                yield Static(id="zk-detail-text")
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one(Tree)
        self.nodes[self.source.root] = tree.root
        self._load(tree.root)
        tree.root.expand()
        tree.focus()
        self._show(self.source.root)

    # ---- reading the source --------------------------------------------------

    def _load(self, node: TreeNode[Entry]) -> None:
        entry = node.data
        if entry is None or entry.loaded:
            return
        entry.loaded = True
        self._reconcile(node)
        if entry.path not in self._watched:
            self._watched.add(entry.path)
            self.source.watch(entry.path, self._source_changed)

    def _source_changed(self, path: str) -> None:
        self.post_message(self.Changed(path))

    def _reconcile(self, node: TreeNode[Entry]) -> None:
        """Make ``node``'s children those of the source, in order, keeping what is expanded."""
        path = entry(node).path
        names = self.source.children(path)
        wanted = set(names)
        for child in list(node.children):
            if name_of(child) not in wanted:
                self._forget(child)
                child.remove()
        present = {name_of(child): child for child in node.children}
        for index, name in enumerate(names):
            child_path = join(path, name)
            has_children = bool(self.source.children(child_path))
            existing = present.get(name)
            if existing is None:
                before = index if index < len(node.children) else None
                self.nodes[child_path] = node.add(name, Entry(child_path), before=before,
                                                  allow_expand=has_children)
            elif existing.allow_expand != has_children:
                existing.allow_expand = has_children

    def _forget(self, node: TreeNode[Entry]) -> None:
        for child in node.children:
            self._forget(child)
        self.nodes.pop(entry(node).path, None)

    def on_tree_browser_changed(self, message: Changed) -> None:
        self._dirty.add(message.path)
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(FLUSH_S, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        dirty, self._dirty = self._dirty, set()
        for path in sorted(dirty):
            node = self.nodes.get(path)
            if node is not None and entry(node).loaded:
                self._reconcile(node)
        selected = self.selected_path()
        if selected is not None and (selected in dirty or selected.rsplit("/", 1)[0] in dirty):
            self._show(selected)

    # ---- selection and detail ------------------------------------------------

    def selected_path(self) -> str | None:
        node = self.query_one(Tree).cursor_node
        return node.data.path if node is not None and node.data is not None else None

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Entry]) -> None:
        self._load(event.node)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Entry]) -> None:
        if event.node.data is not None:
            self._show(event.node.data.path)

    def _show(self, path: str) -> None:
        self.query_one("#zk-detail-text", Static).update(describe_node(path, self.source))

    def reveal(self, path: str | None) -> None:
        """Expand the way to ``path`` and put the cursor on it."""
        if path is None:
            return
        root = self.source.root
        node: TreeNode[Entry] = self.query_one(Tree).root
        rest = path[len(root):].strip("/") if path.startswith(root) else None
        for name in rest.split("/") if rest else []:
            self._load(node)
            node.expand()
            child = next((c for c in node.children if name_of(c) == name), None)
            if child is None:
                self.notify(f"{path} is not in the tree any more", severity="warning")
                return
            node = child
        self.call_after_refresh(self._move_to, node)

    def _move_to(self, node: TreeNode[Entry]) -> None:
        tree = self.query_one(Tree)
        tree.move_cursor(node)
        self._show(entry(node).path)

    # ---- actions -------------------------------------------------------------

    def action_search(self) -> None:
        self.app.push_screen(SearchScreen(self.source.paths()), self.reveal)

    def action_delete(self) -> None:
        path = self.selected_path()
        if self.read_only:
            self.notify("read-only: deleting nodes is disabled", severity="warning")
            return
        if path is None:
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.post_message(self.DeleteConfirmed(path))

        what = "everything under it" if path == self.source.root else "it and everything under it"
        self.app.push_screen(ConfirmScreen(f"Delete {path}? This removes {what}."), confirmed)
