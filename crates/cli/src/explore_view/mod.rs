//! `strata explore IMAGE` on a terminal: the layers beside the selected layer's file
//! tree, with marks and colours, filters, a wasted-space panel and help (ratatui on
//! crossterm). Any size works: below the smallest useful one a single line says so, and
//! a resize redraws.

mod model;

use crate::output::human_size;
use anyhow::Result;
use crossterm::event::{self, Event, KeyEventKind};
use crossterm::terminal;
use model::{Mark, Model, SIZE_STEPS};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;
use strata_explore::display::controls_escaped as shown;
use strata_explore::Analysis;

/// Restores the terminal however the view ends (a panic included).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
        let _ = crossterm::execute!(
            std::io::stdout(),
            terminal::LeaveAlternateScreen,
            crossterm::cursor::Show
        );
    }
}

pub fn run(analysis: &Analysis, title: &str) -> Result<()> {
    terminal::enable_raw_mode()?;
    let _restore = Restore;
    crossterm::execute!(std::io::stdout(), terminal::EnterAlternateScreen)?;
    let mut term = ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))?;
    let mut model = Model::new(analysis);
    while !model.quit {
        term.draw(|f| draw(f, &mut model, title))?;
        match event::read()? {
            Event::Key(key) if key.kind != KeyEventKind::Release => model.key(key),
            Event::Resize(..) => term.autoresize()?,
            _ => {}
        }
    }
    Ok(())
}

fn mark_style(mark: Mark) -> Style {
    match mark {
        Mark::Added => Style::default().fg(Color::Green),
        Mark::Modified => Style::default().fg(Color::Yellow),
        Mark::Removed => Style::default().fg(Color::Red),
        Mark::Unchanged => Style::default().fg(Color::Blue),
        Mark::Shadowed => Style::default().fg(Color::Magenta),
        Mark::None => Style::default(),
    }
}

fn draw(f: &mut Frame, model: &mut Model, title: &str) {
    let area = f.area();
    if area.width < 30 || area.height < 8 {
        // Too small for panes: one line, cut to fit.
        let text: String = "strata explore: enlarge the terminal (q quits)"
            .chars()
            .take(area.width as usize)
            .collect();
        f.render_widget(
            Paragraph::new(text),
            Rect {
                height: area.height.min(1),
                ..area
            },
        );
        return;
    }
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Min(4), Constraint::Length(1)])
        .split(area);
    let panes = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(42), Constraint::Percentage(58)])
        .split(rows[0]);
    let left = Layout::default()
        .direction(Direction::Vertical)
        .constraints([Constraint::Percentage(60), Constraint::Percentage(40)])
        .split(panes[0]);
    draw_layers(f, model, left[0], title);
    if model.show_wasted {
        draw_wasted(f, model, left[1]);
    } else {
        draw_details(f, model, left[1]);
    }
    draw_tree(f, model, panes[1]);
    draw_status(f, model, rows[1]);
    if model.show_help {
        draw_help(f, area);
    }
}

fn pane(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::default().fg(Color::Cyan).add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    Block::default().borders(Borders::ALL).title(Span::styled(title, style))
}

fn draw_layers(f: &mut Frame, model: &Model, area: Rect, title: &str) {
    let block = pane(format!(" Layers of {} ", shown(title)), !model.focus_tree);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let height = inner.height as usize;
    let first = model.layer.saturating_sub(height.saturating_sub(1));
    let lines: Vec<Line> = model
        .analysis
        .layers
        .iter()
        .skip(first)
        .take(height)
        .map(|l| {
            let command = shown(&l.created_by);
            let text = format!("{:>3} {:>8} {}", l.index, human_size(l.bytes as i64), command);
            let style = if l.index == model.layer {
                Style::default().add_modifier(Modifier::REVERSED)
            } else if l.base {
                Style::default().fg(Color::DarkGray)
            } else {
                Style::default()
            };
            Line::from(Span::styled(text, style))
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_details(f: &mut Frame, model: &Model, area: Rect) {
    let block = pane(" Layer ".into(), false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let t = &model.analysis.totals;
    let Some(l) = model.analysis.layers.get(model.layer) else {
        return;
    };
    let lines = vec![
        Line::from(format!("Digest: {}", l.digest)),
        Line::from(format!("Command: {}", shown(&l.created_by))),
        Line::from(format!(
            "Added {}  Modified {}  Removed {}  Wasted {}",
            l.added.len(),
            l.modified.len(),
            l.removed.len(),
            human_size(l.wasted_bytes as i64)
        )),
        Line::from(format!(
            "Image: efficiency {:.2} %, wasted {}, user wasted {:.2} %",
            t.efficiency * 100.0,
            human_size(t.wasted_bytes as i64),
            t.user_wasted_percent * 100.0
        )),
    ];
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_wasted(f: &mut Frame, model: &Model, area: Rect) {
    let t = &model.analysis.totals;
    let block = pane(format!(" Wasted: {} ", human_size(t.wasted_bytes as i64)), false);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let lines: Vec<Line> = model
        .analysis
        .wasted
        .iter()
        .take(inner.height as usize)
        .map(|w| {
            Line::from(format!(
                "{:>3} {:>8} {}",
                w.copies,
                human_size(w.wasted as i64),
                shown(&model.analysis.paths.escaped(w.path))
            ))
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_tree(f: &mut Frame, model: &mut Model, area: Rect) {
    let what = if model.whole_image {
        "Image as of this layer"
    } else {
        "This layer's changes"
    };
    let block = pane(format!(" {what} ({} rows) ", model.rows().len()), model.focus_tree);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let height = inner.height as usize;
    model.follow(height);
    let lines: Vec<Line> = model
        .rows()
        .iter()
        .enumerate()
        .skip(model.scroll)
        .take(height)
        .map(|(i, row)| {
            let arrow = match (row.is_dir, row.collapsed) {
                (true, true) => "▸ ",
                (true, false) => "▾ ",
                _ => "  ",
            };
            let size = if row.is_dir {
                String::new()
            } else {
                human_size(row.size as i64)
            };
            let text = format!(
                "{} {:>8} {}{}{}",
                row.mark.letter(),
                size,
                "  ".repeat(row.depth),
                arrow,
                strata_explore::display::escape_controls(model.analysis.paths.name(row.path))
            );
            let mut style = mark_style(row.mark);
            if i == model.cursor && model.focus_tree {
                style = style.add_modifier(Modifier::REVERSED);
            }
            Line::from(Span::styled(text, style))
        })
        .collect();
    f.render_widget(Paragraph::new(lines), inner);
}

fn draw_status(f: &mut Frame, model: &Model, area: Rect) {
    let text = if let Some(editing) = &model.editing {
        format!("/{editing}  (Enter applies, Esc cancels)")
    } else if let Some(message) = &model.message {
        message.clone()
    } else {
        let mut filters = Vec::new();
        if model.changed_only {
            filters.push("changed only".to_string());
        }
        if model.min_size_step > 0 {
            filters.push(format!("≥ {}", human_size(SIZE_STEPS[model.min_size_step] as i64)));
        }
        if model.pattern.is_some() {
            filters.push(format!("/{}", model.pattern_text));
        }
        // The filters first: a narrow terminal cuts the keys' reminder, not them.
        format!(
            "{}? help  Tab pane  a image/layer  c changed  / regex  s size  w wasted  q quit",
            if filters.is_empty() {
                String::new()
            } else {
                format!("[{}]  ", filters.join(", "))
            }
        )
    };
    f.render_widget(
        Paragraph::new(text).style(Style::default().add_modifier(Modifier::DIM)),
        area,
    );
}

fn draw_help(f: &mut Frame, area: Rect) {
    let lines = [
        "Tab, ←/→, h/l   switch between the layers and the tree",
        "↑/↓, j/k        select a layer / move in the tree",
        "PgUp/PgDn, g/G  page, first, last",
        "Space, Enter    collapse or open a directory",
        "a               the layer's changes / the whole image as of it",
        "c               changed entries only",
        "/               filter paths by a regex (empty: none)",
        "s               minimum file size: 0, 1 kB, 100 kB, 1 MB, 10 MB",
        "w               the wasted-space panel",
        "q, Esc          quit",
        "",
        "Marks: A added  M modified  D removed  U unchanged copy",
        "       S shadowed by a later layer (its bytes are wasted)",
    ];
    let width = (lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 4).min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, rect);
    let text: Vec<Line> = lines.iter().map(|l| Line::from(*l)).collect();
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" Keys (any key closes) ")),
        rect,
    );
}
