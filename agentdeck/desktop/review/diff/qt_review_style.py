"""Style sheet of the review panel's chrome (bars, buttons, banners) for a theme."""
from __future__ import annotations

from agentdeck.desktop.widgets.theme import Theme, scrollbar_css


def review_style(theme: Theme) -> str:
    """Qt style sheet for `QtDiffReview` and its children, keyed by object names."""
    t = theme
    return f"""
    #reviewBar, #fileBar {{ background: {t.surface}; border-bottom: 1px solid {t.border}; }}
    #reviewBar QLabel, #fileBar QLabel {{ color: {t.text}; }}
    #reviewBar QLabel#reviewTitle {{ color: {t.muted}; }}
    #reviewSubject {{ font-weight: 600; }}
    QLabel#addCount {{ color: {t.add_fg}; font-weight: 600; }}
    QLabel#delCount {{ color: {t.del_fg}; font-weight: 600; }}
    QLabel#fileStatus {{ color: {t.muted}; }}
    #filePath {{ font-weight: 600; }}
    QLabel#fileFlag {{ background: {t.warn_bg}; color: {t.warn_fg};
                       border-bottom: 1px solid {t.border}; }}
    QPushButton, QToolButton {{
        background: {t.base}; color: {t.text}; border: 1px solid {t.border};
        border-radius: 6px; padding: 5px 12px; }}
    QPushButton:hover, QToolButton:hover {{ background: {t.selection}; }}
    QPushButton:disabled {{ color: {t.muted}; background: {t.surface}; }}
    QToolButton:checked {{ background: {t.selection}; border-color: {t.link}; color: {t.link}; }}
    QToolButton#segLeft {{ border-top-right-radius: 0; border-bottom-right-radius: 0; }}
    QToolButton#segRight {{ border-top-left-radius: 0; border-bottom-left-radius: 0;
                            margin-left: -1px; }}
    QPushButton#accept {{ background: {t.accent}; color: {t.accent_text};
                          border-color: {t.accent}; font-weight: 600; }}
    QPushButton#accept:hover {{ background: {t.add_fg}; }}
    QPushButton#accept:disabled {{ background: {t.surface}; color: {t.muted};
                                   border-color: {t.border}; }}
    QPushButton#reject {{ color: {t.del_fg}; font-weight: 600; }}
    QPushButton#reject:hover {{ background: {t.del_bg}; }}
    #conflict {{ background: {t.del_bg}; border-bottom: 1px solid {t.del_fg}; }}
    #conflict QLabel {{ color: {t.text}; }}
    #empty {{ color: {t.muted}; background: {t.base}; }}
    QSplitter::handle {{ background: {t.border}; }}
    """ + scrollbar_css(theme)
