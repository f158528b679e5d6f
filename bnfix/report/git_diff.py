"""Line diffs computed the way `git diff` computes them, so `bnfix apply --diff` shows exactly the hunks a reviewer
later sees in `git diff` (difflib pairs lines differently: a swapped pair of layers came out as "+b a -b" where
git shows "-a b +a").

A port of git's xdiff (xdiff/xprepare.c, xdiffi.c, xemit.c) for the default settings: Myers' divide and conquer
with git's cost heuristics, the pre-pass that sets aside lines with no match in the other file, the compaction that
slides each change up and down and then places it by the indent heuristic (on by default since git 2.14), three
lines of context, and the default function-name header after `@@` (the last line above the hunk that starts with
a letter, `_` or `$`). Lines are split on "\n" only, as git splits them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

_CONTEXT = 3
_SNAKE_COUNT = 20  # XDL_SNAKE_CNT
_HEURISTIC_MIN_COST = 256  # XDL_HEUR_MIN_COST
_MAX_COST_MIN = 256  # XDL_MAX_COST_MIN
_K_HEURISTIC = 4  # XDL_K_HEUR
_MAX_EQUAL_LIMIT = 1024  # XDL_MAX_EQLIMIT
_SIMILAR_SCAN_WINDOW = 100  # XDL_SIMSCAN_WINDOW
_KEEP_DISCARDED_RUN = 4  # XDL_KPDIS_RUN
_LINE_MAX = 1 << 62
_FUNC_LINE_SIZE = 80


def split_lines(text: str) -> list[str]:
    """Lines as git sees them: split after each "\n" (a "\r" or a form feed does not end a line)."""
    lines = text.split("\n")
    result = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        result.append(lines[-1])
    return result


def unified_hunks(old: list[str], new: list[str]) -> Iterator[str]:
    """The hunks of `git diff` between two line lists (`@@` headers and body lines, each ending in a newline,
    with git's "\\ No newline at end of file" marker); nothing when they are equal."""
    changed_old, changed_new = _changed_lines(old, new)
    changes = list(_script(changed_old, changed_new))
    if not changes:
        return
    function_line, search_limit = "", -1
    index = 0
    while index < len(changes):
        last = index
        while last + 1 < len(changes):
            gap = changes[last + 1].old - (changes[last].old + changes[last].old_count)
            if gap > 2 * _CONTEXT:
                break
            last += 1
        first, final = changes[index], changes[last]
        start_old, start_new = max(first.old - _CONTEXT, 0), max(first.new - _CONTEXT, 0)
        end_old = min(final.old + final.old_count + _CONTEXT, len(old))
        end_new = min(final.new + final.new_count + _CONTEXT, len(new))
        found = _function_line(old, start_old - 1, search_limit)
        if found is not None:
            function_line = found
        search_limit = start_old - 1
        header = f"@@ -{_range(start_old, end_old - start_old)} +{_range(start_new, end_new - start_new)} @@"
        yield header + (f" {function_line}" if function_line else "") + "\n"
        position = start_old
        for change in changes[index : last + 1]:
            yield from _body(" ", old[position : change.old])
            yield from _body("-", old[change.old : change.old + change.old_count])
            yield from _body("+", new[change.new : change.new + change.new_count])
            position = change.old + change.old_count
        yield from _body(" ", old[position:end_old])
        index = last + 1


def _range(start: int, count: int) -> str:
    if count == 1:
        return str(start + 1)
    return f"{start if count == 0 else start + 1},{count}"


def _body(prefix: str, lines: list[str]) -> Iterator[str]:
    for line in lines:
        if line.endswith("\n"):
            yield prefix + line
        else:
            yield prefix + line + "\n\\ No newline at end of file\n"


def _function_line(lines: list[str], start: int, limit: int) -> str | None:
    """git's default `funcname`: searching up from `start` (down to `limit`, exclusive), the first line that
    begins with a letter, `_` or `$`, cut to 80 bytes and stripped of trailing whitespace."""
    for number in range(start, limit, -1):
        if number < 0 or number >= len(lines):
            break
        line = lines[number]
        if line and (line[0].isascii() and line[0].isalpha() or line[0] in "_$"):
            raw = line.encode("utf-8")[:_FUNC_LINE_SIZE]
            return raw.rstrip(b" \t\n\r\v\f").decode("utf-8", errors="replace")
    return None


@dataclass(frozen=True)
class _Change:
    old: int
    new: int
    old_count: int
    new_count: int


def _script(changed_old: list[bool], changed_new: list[bool]) -> Iterator[_Change]:
    i1 = i2 = 0
    n1, n2 = len(changed_old), len(changed_new)
    while i1 < n1 or i2 < n2:
        if (i1 < n1 and changed_old[i1]) or (i2 < n2 and changed_new[i2]):
            start1, start2 = i1, i2
            while i1 < n1 and changed_old[i1]:
                i1 += 1
            while i2 < n2 and changed_new[i2]:
                i2 += 1
            yield _Change(start1, start2, i1 - start1, i2 - start2)
        else:
            i1 += 1
            i2 += 1


# ------------------------------------------------------------------------------------------------ which lines change


def _changed_lines(old: list[str], new: list[str]) -> tuple[list[bool], list[bool]]:
    ids: dict[str, int] = {}
    records1 = [ids.setdefault(line, len(ids)) for line in old]
    records2 = [ids.setdefault(line, len(ids)) for line in new]
    file1, file2 = _File(records1, old), _File(records2, new)
    _prepare(file1, file2, len(ids))
    _Myers(file1, file2).compare(0, len(file1.kept), 0, len(file2.kept), need_min=False)
    _compact(file1, file2)
    _compact(file2, file1)
    return file1.changed[1:-1], file2.changed[1:-1]


class _File:
    def __init__(self, records: list[int], text: list[str]) -> None:
        self.records = records
        self.text = text
        self.changed = [False] * (len(records) + 2)  # index i + 1 holds line i; sentinels at both ends
        self.kept: list[int] = []  # the records the diff compares (xdfile_t.ha)
        self.kept_index: list[int] = []  # their line numbers (xdfile_t.rindex)
        self.start = 0
        self.end = len(records) - 1

    def is_changed(self, line: int) -> bool:
        return self.changed[line + 1]

    def mark(self, line: int, value: bool) -> None:
        self.changed[line + 1] = value


def _bogosqrt(n: int) -> int:
    i = 1
    while n > 0:
        i <<= 1
        n >>= 2
    return i


def _prepare(file1: _File, file2: _File, classes: int) -> None:
    """xdl_trim_ends and xdl_cleanup_records: skip the common head and tail, and set aside (as changed) lines
    that have no match in the other file, and lines with many matches inside runs of those."""
    limit = min(len(file1.records), len(file2.records))
    head = 0
    while head < limit and file1.records[head] == file2.records[head]:
        head += 1
    tail = 0
    while tail < limit - head and file1.records[-1 - tail] == file2.records[-1 - tail]:
        tail += 1
    file1.start = file2.start = head
    file1.end, file2.end = len(file1.records) - tail - 1, len(file2.records) - tail - 1

    counts1, counts2 = [0] * classes, [0] * classes
    for record in file1.records:
        counts1[record] += 1
    for record in file2.records:
        counts2[record] += 1
    for this, other_counts in ((file1, counts2), (file2, counts1)):
        limit = min(_bogosqrt(len(this.records)), _MAX_EQUAL_LIMIT)
        discard = [0] * (len(this.records) + 1)
        for line in range(this.start, this.end + 1):
            matches = other_counts[this.records[line]]
            discard[line] = 0 if matches == 0 else 2 if matches >= limit else 1
        for line in range(this.start, this.end + 1):
            if discard[line] == 1 or (discard[line] == 2 and not _keep_discarded(discard, line, this.start, this.end)):
                this.kept.append(this.records[line])
                this.kept_index.append(line)
            else:
                this.mark(line, True)


def _keep_discarded(discard: list[int], line: int, start: int, end: int) -> bool:
    """xdl_clean_mmatch: is this many-matches line inside a run of mostly no-match lines (then it is discarded)?"""
    start = max(start, line - _SIMILAR_SCAN_WINDOW)
    end = min(end, line + _SIMILAR_SCAN_WINDOW)
    no_match_before, multi_before = 0, 1
    r = 1
    while line - r >= start:
        if not discard[line - r]:
            no_match_before += 1
        elif discard[line - r] == 2:
            multi_before += 1
        else:
            break
        r += 1
    if no_match_before == 0:
        return False
    no_match_after, multi_after = 0, 1
    r = 1
    while line + r <= end:
        if not discard[line + r]:
            no_match_after += 1
        elif discard[line + r] == 2:
            multi_after += 1
        else:
            break
        r += 1
    if no_match_after == 0:
        return False
    no_match, multi = no_match_after + no_match_before, multi_after + multi_before
    return multi * _KEEP_DISCARDED_RUN < multi + no_match


class _Myers:
    """xdl_recs_cmp and xdl_split over the kept records."""

    def __init__(self, file1: _File, file2: _File) -> None:
        self.file1, self.file2 = file1, file2
        self.a, self.b = file1.kept, file2.kept
        size = len(self.a) + len(self.b) + 3
        self.offset = len(self.b) + 1
        self.forward = [0] * size
        self.backward = [0] * size
        self.max_cost = max(_bogosqrt(size), _MAX_COST_MIN)

    def compare(self, off1: int, lim1: int, off2: int, lim2: int, need_min: bool) -> None:
        stack = [(off1, lim1, off2, lim2, need_min)]
        a, b = self.a, self.b
        while stack:
            off1, lim1, off2, lim2, need_min = stack.pop()
            while off1 < lim1 and off2 < lim2 and a[off1] == b[off2]:
                off1 += 1
                off2 += 1
            while off1 < lim1 and off2 < lim2 and a[lim1 - 1] == b[lim2 - 1]:
                lim1 -= 1
                lim2 -= 1
            if off1 == lim1:
                for i in range(off2, lim2):
                    self.file2.mark(self.file2.kept_index[i], True)
            elif off2 == lim2:
                for i in range(off1, lim1):
                    self.file1.mark(self.file1.kept_index[i], True)
            else:
                i1, i2, min_lo, min_hi = self._split(off1, lim1, off2, lim2, need_min)
                # The recursion order does not matter: the halves mark disjoint lines.
                stack.append((i1, lim1, i2, lim2, min_hi))
                stack.append((off1, i1, off2, i2, min_lo))

    def _split(self, off1: int, lim1: int, off2: int, lim2: int, need_min: bool) -> tuple[int, int, bool, bool]:
        a, b, o = self.a, self.b, self.offset
        kvdf, kvdb = self.forward, self.backward
        dmin, dmax = off1 - lim2, lim1 - off2
        fmid, bmid = off1 - off2, lim1 - lim2
        odd = (fmid - bmid) & 1
        fmin = fmax = fmid
        bmin = bmax = bmid
        kvdf[fmid + o] = off1
        kvdb[bmid + o] = lim1
        ec = 0
        while True:
            ec += 1
            got_snake = False
            if fmin > dmin:
                fmin -= 1
                kvdf[fmin - 1 + o] = -1
            else:
                fmin += 1
            if fmax < dmax:
                fmax += 1
                kvdf[fmax + 1 + o] = -1
            else:
                fmax -= 1
            for d in range(fmax, fmin - 1, -2):
                if kvdf[d - 1 + o] >= kvdf[d + 1 + o]:
                    i1 = kvdf[d - 1 + o] + 1
                else:
                    i1 = kvdf[d + 1 + o]
                prev1 = i1
                i2 = i1 - d
                while i1 < lim1 and i2 < lim2 and a[i1] == b[i2]:
                    i1 += 1
                    i2 += 1
                if i1 - prev1 > _SNAKE_COUNT:
                    got_snake = True
                kvdf[d + o] = i1
                if odd and bmin <= d <= bmax and kvdb[d + o] <= i1:
                    return i1, i2, True, True

            if bmin > dmin:
                bmin -= 1
                kvdb[bmin - 1 + o] = _LINE_MAX
            else:
                bmin += 1
            if bmax < dmax:
                bmax += 1
                kvdb[bmax + 1 + o] = _LINE_MAX
            else:
                bmax -= 1
            for d in range(bmax, bmin - 1, -2):
                if kvdb[d - 1 + o] < kvdb[d + 1 + o]:
                    i1 = kvdb[d - 1 + o]
                else:
                    i1 = kvdb[d + 1 + o] - 1
                prev1 = i1
                i2 = i1 - d
                while i1 > off1 and i2 > off2 and a[i1 - 1] == b[i2 - 1]:
                    i1 -= 1
                    i2 -= 1
                if prev1 - i1 > _SNAKE_COUNT:
                    got_snake = True
                kvdb[d + o] = i1
                if not odd and fmin <= d <= fmax and i1 <= kvdf[d + o]:
                    return i1, i2, True, True

            if need_min:
                continue
            if got_snake and ec > _HEURISTIC_MIN_COST:
                found = self._good_forward_snake(off1, lim1, off2, lim2, fmin, fmax, fmid, ec)
                if found is not None:
                    return found[0], found[1], True, False
                found = self._good_backward_snake(off1, lim1, off2, lim2, bmin, bmax, bmid, ec)
                if found is not None:
                    return found[0], found[1], False, True
            if ec >= self.max_cost:
                return self._furthest(off1, lim1, off2, lim2, fmin, fmax, bmin, bmax)

    def _good_forward_snake(self, off1, lim1, off2, lim2, fmin, fmax, fmid, ec):
        a, b, o, kvdf = self.a, self.b, self.offset, self.forward
        best, found = 0, None
        for d in range(fmax, fmin - 1, -2):
            dd = d - fmid if d > fmid else fmid - d
            i1 = kvdf[d + o]
            i2 = i1 - d
            v = (i1 - off1) + (i2 - off2) - dd
            if v > _K_HEURISTIC * ec and v > best and off1 + _SNAKE_COUNT <= i1 < lim1 and off2 + _SNAKE_COUNT <= i2 < lim2:
                k = 1
                while a[i1 - k] == b[i2 - k]:
                    if k == _SNAKE_COUNT:
                        best, found = v, (i1, i2)
                        break
                    k += 1
        return found

    def _good_backward_snake(self, off1, lim1, off2, lim2, bmin, bmax, bmid, ec):
        a, b, o, kvdb = self.a, self.b, self.offset, self.backward
        best, found = 0, None
        for d in range(bmax, bmin - 1, -2):
            dd = d - bmid if d > bmid else bmid - d
            i1 = kvdb[d + o]
            i2 = i1 - d
            v = (lim1 - i1) + (lim2 - i2) - dd
            if v > _K_HEURISTIC * ec and v > best and off1 < i1 <= lim1 - _SNAKE_COUNT and off2 < i2 <= lim2 - _SNAKE_COUNT:
                k = 0
                while a[i1 + k] == b[i2 + k]:
                    if k == _SNAKE_COUNT - 1:
                        best, found = v, (i1, i2)
                        break
                    k += 1
        return found

    def _furthest(self, off1, lim1, off2, lim2, fmin, fmax, bmin, bmax):
        o, kvdf, kvdb = self.offset, self.forward, self.backward
        fbest = fbest1 = -1
        for d in range(fmax, fmin - 1, -2):
            i1 = min(kvdf[d + o], lim1)
            i2 = i1 - d
            if lim2 < i2:
                i1, i2 = lim2 + d, lim2
            if fbest < i1 + i2:
                fbest, fbest1 = i1 + i2, i1
        bbest = bbest1 = _LINE_MAX
        for d in range(bmax, bmin - 1, -2):
            i1 = max(off1, kvdb[d + o])
            i2 = i1 - d
            if i2 < off2:
                i1, i2 = off2 + d, off2
            if i1 + i2 < bbest:
                bbest, bbest1 = i1 + i2, i1
        if (lim1 + lim2) - bbest < fbest - (off1 + off2):
            return fbest1, fbest - fbest1, True, False
        return bbest1, bbest - bbest1, False, True


# ------------------------------------------------------------------------------------- sliding changes into place

_MAX_INDENT = 200
_MAX_BLANKS = 20
_START_OF_FILE_PENALTY = 1
_END_OF_FILE_PENALTY = 21
_TOTAL_BLANK_WEIGHT = -30
_POST_BLANK_WEIGHT = 6
_RELATIVE_INDENT_PENALTY = -4
_RELATIVE_INDENT_WITH_BLANK_PENALTY = 10
_RELATIVE_OUTDENT_PENALTY = 24
_RELATIVE_OUTDENT_WITH_BLANK_PENALTY = 17
_RELATIVE_DEDENT_PENALTY = 23
_RELATIVE_DEDENT_WITH_BLANK_PENALTY = 17
_INDENT_WEIGHT = 60
_INDENT_HEURISTIC_MAX_SLIDING = 100


class _Group:
    """A run [start, end) of changed lines of one file (xdlgroup)."""

    def __init__(self, file: _File) -> None:
        self.file = file
        self.start = self.end = 0
        while file.is_changed(self.end):
            self.end += 1

    def next(self) -> bool:
        if self.end == len(self.file.records):
            return False
        self.start = self.end + 1
        self.end = self.start
        while self.file.is_changed(self.end):
            self.end += 1
        return True

    def previous(self) -> bool:
        if self.start == 0:
            return False
        self.end = self.start - 1
        self.start = self.end
        while self.file.is_changed(self.start - 1):
            self.start -= 1
        return True

    def slide_down(self) -> bool:
        records = self.file.records
        if self.end < len(records) and records[self.start] == records[self.end]:
            self.file.mark(self.start, False)
            self.file.mark(self.end, True)
            self.start += 1
            self.end += 1
            while self.file.is_changed(self.end):
                self.end += 1
            return True
        return False

    def slide_up(self) -> bool:
        records = self.file.records
        if self.start > 0 and records[self.start - 1] == records[self.end - 1]:
            self.start -= 1
            self.end -= 1
            self.file.mark(self.start, True)
            self.file.mark(self.end, False)
            while self.file.is_changed(self.start - 1):
                self.start -= 1
            return True
        return False


def _compact(file: _File, other: _File) -> None:
    """xdl_change_compact: slide each group of changes as far up, then down, as equal lines allow (merging groups
    it meets), then line it up with a change in the other file, or else place it by the indent heuristic."""
    lines = _LineText(file)
    group, other_group = _Group(file), _Group(other)
    while True:
        if group.end != group.start:
            while True:
                size = group.end - group.start
                end_matching_other = -1
                while group.slide_up():
                    other_group.previous()
                earliest_end = group.end
                if other_group.end > other_group.start:
                    end_matching_other = group.end
                while group.slide_down():
                    other_group.next()
                    if other_group.end > other_group.start:
                        end_matching_other = group.end
                if size == group.end - group.start:
                    break
            if group.end == earliest_end:
                pass
            elif end_matching_other != -1:
                while other_group.end == other_group.start:
                    group.slide_up()
                    other_group.previous()
            else:
                shift = max(earliest_end, group.end - size - 1, group.end - _INDENT_HEURISTIC_MAX_SLIDING)
                best_shift, best_score = -1, (0, 0)
                while shift <= group.end:
                    score = _split_score(lines, shift, (0, 0))
                    score = _split_score(lines, shift - size, score)
                    if best_shift == -1 or _score_cmp(score, best_score) <= 0:
                        best_shift, best_score = shift, score
                    shift += 1
                while group.end > best_shift:
                    group.slide_up()
                    other_group.previous()
        if not group.next():
            break
        other_group.next()


class _LineText:
    """The indentation of each line of a file, as the indent heuristic measures it (computed on demand)."""

    def __init__(self, file: _File) -> None:
        self.text = file.text
        self._indent: dict[int, int] = {}

    def indent(self, line: int) -> int:
        if line not in self._indent:
            self._indent[line] = _indent_of(self.text[line])
        return self._indent[line]


def _indent_of(line: str) -> int:
    """get_indent: columns of leading spaces and tabs (tabs to multiples of 8); -1 for a blank line."""
    width = 0
    for char in line:
        if char not in " \t\n\r\v\f":
            return width
        if char == " ":
            width += 1
        elif char == "\t":
            width += 8 - width % 8
        if width >= _MAX_INDENT:
            return _MAX_INDENT
    return -1


def _split_score(lines: _LineText, split: int, score: tuple[int, int]) -> tuple[int, int]:
    """measure_split + score_add_split: (effective indent, penalty) of splitting the file before line `split`."""
    count = len(lines.text)
    end_of_file = split >= count
    indent = -1 if end_of_file else lines.indent(split)
    pre_blank, pre_indent = 0, -1
    for line in range(split - 1, -1, -1):
        pre_indent = lines.indent(line)
        if pre_indent != -1:
            break
        pre_blank += 1
        if pre_blank == _MAX_BLANKS:
            pre_indent = 0
            break
    post_blank_run, post_indent = 0, -1
    for line in range(split + 1, count):
        post_indent = lines.indent(line)
        if post_indent != -1:
            break
        post_blank_run += 1
        if post_blank_run == _MAX_BLANKS:
            post_indent = 0
            break

    effective, penalty = score
    if pre_indent == -1 and pre_blank == 0:
        penalty += _START_OF_FILE_PENALTY
    if end_of_file:
        penalty += _END_OF_FILE_PENALTY
    post_blank = 1 + post_blank_run if indent == -1 else 0
    total_blank = pre_blank + post_blank
    penalty += _TOTAL_BLANK_WEIGHT * total_blank + _POST_BLANK_WEIGHT * post_blank
    line_indent = indent if indent != -1 else post_indent
    any_blanks = total_blank != 0
    effective += line_indent
    if line_indent == -1 or pre_indent == -1:
        pass
    elif line_indent > pre_indent:
        penalty += _RELATIVE_INDENT_WITH_BLANK_PENALTY if any_blanks else _RELATIVE_INDENT_PENALTY
    elif line_indent == pre_indent:
        pass
    elif post_indent != -1 and post_indent > line_indent:
        penalty += _RELATIVE_OUTDENT_WITH_BLANK_PENALTY if any_blanks else _RELATIVE_OUTDENT_PENALTY
    else:
        penalty += _RELATIVE_DEDENT_WITH_BLANK_PENALTY if any_blanks else _RELATIVE_DEDENT_PENALTY
    return effective, penalty


def _score_cmp(first: tuple[int, int], second: tuple[int, int]) -> int:
    indents = (first[0] > second[0]) - (first[0] < second[0])
    return _INDENT_WEIGHT * indents + (first[1] - second[1])
